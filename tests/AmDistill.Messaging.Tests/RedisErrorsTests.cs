using System.IO.Pipelines;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Messaging.Tests;

/// <summary>What the consumer and producer retry as a Redis failure, and what they must let surface.</summary>
public sealed class RedisErrorsTests
{
    [Fact]
    public async Task The_clients_own_teardown_errors_are_redis_failures_and_a_handlers_invalid_operation_is_not()
    {
        // What a command meets when its connection's pipe is completed under it.
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();
        var torn = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipe.Writer.WriteAsync(new byte[] { 1 }));
        Assert.True(RedisErrors.IsRedisFailure(torn), torn.Source);

        Assert.True(RedisErrors.IsRedisFailure(new RedisConnectionException(ConnectionFailureType.SocketClosed, "closed")));
        Assert.True(RedisErrors.IsRedisFailure(new RedisTimeoutException("timeout", CommandStatus.Sent)));

        // A bug of our own (a handler, a collection modified while enumerated) is not Redis going away.
        var bug = Assert.Throws<InvalidOperationException>(() =>
        {
            var list = new List<int> { 1, 2 };
            foreach (var item in list) list.Add(item);
        });
        Assert.False(RedisErrors.IsRedisFailure(bug));
        Assert.False(RedisErrors.IsTransient(new InvalidOperationException("no such teacher")));
        Assert.False(RedisErrors.IsTransient(new RedisServerException("ERR wrong number of arguments")));
        Assert.True(RedisErrors.IsTransient(new RedisServerException("LOADING Redis is loading the dataset in memory")));
    }
}
