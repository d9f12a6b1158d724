using System.Diagnostics;
using AmDistill.Messaging.CrashWorker;
using StackExchange.Redis;
using Xunit.Abstractions;
using static AmDistill.Messaging.Tests.TestStreams;
using AmDistill.LocalRedis;

namespace AmDistill.Messaging.Tests;

public sealed class ReliabilityTests(RedisFixture fx, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private TestOutputLogger<StreamConsumer<TestMessage>> Log => new(output);

    private IDatabase Db => fx.Redis.GetDatabase();

    [Fact]
    public async Task Killed_consumer_loses_nothing_and_an_idempotent_handler_applies_each_entry_once()
    {
        var stream = New();
        var results = $"{stream.Name}:results";
        await PublishAsync(new StreamProducer<TestMessage>(fx.Redis, stream), 400);

        // A consumer in another process, killed with SIGKILL while it holds a batch.
        using var worker = StartCrashWorker(stream.Name, results, handlerDelayMs: 25);
        await WaitUntilAsync(async () => await Db.HashLengthAsync(results) >= 100, TimeSpan.FromSeconds(60), "the worker handled 100 entries");
        worker.Kill();
        await worker.WaitForExitAsync();

        var held = await Db.StreamPendingAsync(stream.Name, "g");
        Assert.True(held.PendingMessageCount > 0, "the killed worker held unacknowledged entries");
        var handledBeforeKill = await Db.HashLengthAsync(results);
        Assert.True(handledBeforeKill < 400, "the worker was killed mid-run");

        // A survivor takes the dead worker's entries over once they pass the visibility timeout.
        var handler = new CountingHandler(fx.Redis, results, TimeSpan.Zero);
        using var stop = new CancellationTokenSource();
        var survivor = new StreamConsumer<TestMessage>(fx.Redis, stream, handler, FastOptions("survivor"), Log).RunAsync(stop.Token);
        await WaitUntilAsync(async () => await Db.HashLengthAsync(results) == 400 && await PendingAsync(Db, stream.Name) == 0,
            TimeSpan.FromSeconds(30), "all 400 entries are handled and acknowledged");
        await stop.CancelAsync();
        await survivor;

        await AssertEachCountedOnceAsync(Db, results, 400);
        Assert.True(handler.Invocations >= 400 - handledBeforeKill, "the survivor handled everything the worker left");
        var consumers = await Db.StreamConsumerInfoAsync(stream.Name, "g");
        Assert.Equal(0, consumers.Single(c => c.Name == "crash-worker").PendingMessageCount);
    }

    [Fact]
    public async Task A_poison_entry_goes_to_the_dead_letter_stream_after_max_deliveries_with_its_reason()
    {
        var stream = New();
        var producer = new StreamProducer<TestMessage>(fx.Redis, stream);
        await PublishAsync(producer, 10);
        await producer.PublishAsync(new TestMessage(-1, "poison"), "poison-key");

        var handler = new ThrowingHandler("poison");
        var options = FastOptions("c");
        options.MaxDeliveries = 3;
        options.VisibilityTimeout = TimeSpan.FromMilliseconds(300);
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, handler, options, Log).RunAsync(stop.Token);

        await WaitUntilAsync(async () => await Db.StreamLengthAsync(stream.DeadLetterName) == 1 && await PendingAsync(Db, stream.Name) == 0,
            TimeSpan.FromSeconds(20), "the poison entry is dead-lettered");
        await stop.CancelAsync();
        await consumer;

        Assert.Equal(3, handler.PoisonAttempts);
        Assert.Equal(10, handler.Handled);
        var dead = (await Db.StreamRangeAsync(stream.DeadLetterName)).Single();
        Assert.Equal("poison-key", dead["k"]);
        Assert.Equal("3", dead["deliveries"]);
        Assert.Contains("cannot digest poison", dead["error"].ToString(), StringComparison.Ordinal);
        Assert.Contains("\"text\":\"poison\"", dead["d"].ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("g", dead["group"]);
        Assert.False(dead["source_id"].IsNullOrEmpty);
        Assert.Equal(0, await Db.HashLengthAsync($"{stream.Name}:errors"));
    }

    [Fact]
    public async Task An_entry_whose_consumers_keep_crashing_is_dead_lettered_with_that_reason()
    {
        var stream = New();
        var producer = new StreamProducer<TestMessage>(fx.Redis, stream);
        var id = await producer.PublishAsync(new TestMessage(7, "kills its consumer"), "crasher");
        // Three consumers took it and died without a word: delivered 3 times, idle long since.
        await Db.StreamCreateConsumerGroupAsync(stream.Name, "g", StreamPosition.Beginning);
        await Db.StreamReadGroupAsync(stream.Name, "g", "ghost", StreamPosition.NewMessages, 1);
        await Db.ExecuteAsync("XCLAIM", stream.Name, "g", "ghost", 0, id, "IDLE", 60_000, "RETRYCOUNT", 3);

        var handler = new ThrowingHandler("none");
        var options = FastOptions("c");
        options.MaxDeliveries = 3;
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, handler, options, Log).RunAsync(stop.Token);
        await WaitUntilAsync(async () => await Db.StreamLengthAsync(stream.DeadLetterName) == 1, TimeSpan.FromSeconds(10), "dead-lettered");
        await stop.CancelAsync();
        await consumer;

        Assert.Equal(0, handler.Handled);
        var dead = (await Db.StreamRangeAsync(stream.DeadLetterName)).Single();
        Assert.Equal("3", dead["deliveries"]);
        Assert.Contains("crashed or was killed", dead["error"].ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await PendingAsync(Db, stream.Name));
    }

    [Fact]
    public async Task An_entry_that_does_not_parse_is_dead_lettered_at_once()
    {
        var stream = New();
        await Db.StreamAddAsync(stream.Name, [new NameValueEntry("k", "bad"), new NameValueEntry("d", "{not json")]);
        var handler = new ThrowingHandler("none");
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, handler, FastOptions("c"), Log).RunAsync(stop.Token);
        await WaitUntilAsync(async () => await Db.StreamLengthAsync(stream.DeadLetterName) == 1, TimeSpan.FromSeconds(10), "dead-lettered");
        await stop.CancelAsync();
        await consumer;

        var dead = (await Db.StreamRangeAsync(stream.DeadLetterName)).Single();
        Assert.StartsWith("invalid payload", dead["error"].ToString(), StringComparison.Ordinal);
        Assert.Equal("1", dead["deliveries"]);
        Assert.Equal(0, handler.Handled + handler.PoisonAttempts);
    }

    [Fact]
    public async Task Backpressure_holds_the_producer_until_consumers_catch_up()
    {
        var stream = New();
        const int highWaterMark = 50;
        await Db.StreamCreateConsumerGroupAsync(stream.Name, "g", StreamPosition.Beginning, createStream: true);
        var producer = new StreamProducer<TestMessage>(fx.Redis, stream,
            new StreamProducerOptions { HighWaterMark = highWaterMark, BackpressurePollInterval = TimeSpan.FromMilliseconds(10) });

        for (var i = 0; i < highWaterMark; i++) await producer.PublishAsync(new TestMessage(i, "x"), $"m{i}");
        var blocked = producer.PublishAsync(new TestMessage(highWaterMark, "x"), $"m{highWaterMark}");
        await Task.Delay(500);
        Assert.False(blocked.IsCompleted, "the producer waits while the backlog is at the high-water mark");
        Assert.Equal(highWaterMark, await Db.StreamLengthAsync(stream.Name));

        var results = $"{stream.Name}:results";
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, new CountingHandler(fx.Redis, results, TimeSpan.FromMilliseconds(2)),
            FastOptions("c"), Log).RunAsync(stop.Token);
        await blocked.WaitAsync(TimeSpan.FromSeconds(10));

        // While 400 more go through, the backlog never exceeds the high-water mark.
        long maxBacklog = 0;
        var publishing = Task.Run(async () =>
        {
            for (var i = highWaterMark + 1; i < 450; i++) await producer.PublishAsync(new TestMessage(i, "x"), $"m{i}");
        });
        while (!publishing.IsCompleted)
        {
            maxBacklog = Math.Max(maxBacklog, (await StreamStatus.ReadAsync(Db, stream.Name)).Backlog);
            await Task.Delay(5);
        }
        await publishing;
        await WaitUntilAsync(async () => await Db.HashLengthAsync(results) == 450, TimeSpan.FromSeconds(20), "all handled");
        await stop.CancelAsync();
        await consumer;

        Assert.InRange(maxBacklog, 1, highWaterMark);
        await AssertEachCountedOnceAsync(Db, results, 450);
    }

    [Fact]
    public async Task A_redis_server_killed_and_restarted_with_AOF_loses_nothing()
    {
        await using var server = await LocalRedisServer.StartAsync(appendOnly: true);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var db = redis.GetDatabase();
        var stream = New();
        var results = $"{stream.Name}:results";

        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(redis, stream, new CountingHandler(redis, results, TimeSpan.FromMilliseconds(1)),
            FastOptions("c"), Log).RunAsync(stop.Token);
        var producer = new StreamProducer<TestMessage>(redis, stream);
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 1000; i++) await producer.PublishAsync(new TestMessage(i, "x"), $"m{i}");
        });

        await WaitUntilAsync(async () => await db.HashLengthAsync(results) >= 200, TimeSpan.FromSeconds(30), "200 handled");
        server.Kill();
        await Task.Delay(500);
        await server.RestartAsync();

        await publishing.WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            await WaitUntilAsync(async () => await db.HashLengthAsync(results) == 1000 && await PendingAsync(db, stream.Name) == 0,
                TimeSpan.FromSeconds(60), "all 1000 entries are handled after the restart");
        }
        catch (TimeoutException)
        {
            var pending = await db.StreamPendingMessagesAsync(stream.Name, "g", 10, RedisValue.Null);
            output.WriteLine($"handled {await db.HashLengthAsync(results)}, stream {await db.StreamLengthAsync(stream.Name)}, consumer task {consumer.Status}; pending: " +
                string.Join("; ", pending.Select(p => $"{p.MessageId} by {p.ConsumerName} idle {p.IdleTimeInMilliseconds} ms, {p.DeliveryCount} deliveries")));
            throw;
        }
        await stop.CancelAsync();
        await consumer;
        await AssertEachCountedOnceAsync(db, results, 1000);
    }

    [Fact]
    public async Task After_an_AOF_reload_the_backlog_is_right_and_a_new_batch_gets_through_backpressure()
    {
        await using var server = await LocalRedisServer.StartAsync(appendOnly: true);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var db = redis.GetDatabase();
        var stream = New();
        var results = $"{stream.Name}:results";
        var options = FastOptions("c");

        async Task ConsumeAllAsync(int total)
        {
            using var stop = new CancellationTokenSource();
            var consumer = new StreamConsumer<TestMessage>(redis, stream, new CountingHandler(redis, results, TimeSpan.Zero), options, Log).RunAsync(stop.Token);
            await WaitUntilAsync(async () => await db.HashLengthAsync(results) == total && await PendingAsync(db, stream.Name) == 0,
                TimeSpan.FromSeconds(30), $"{total} handled");
            await stop.CancelAsync();
            await consumer;
        }

        // Handled and trimmed, the AOF rewritten in between: Redis 7.0 reloads the group's entries-read from the rewrite.
        await PublishAsync(new StreamProducer<TestMessage>(redis, stream), 300, "a");
        await ConsumeAllAsync(300);
        await db.ExecuteAsync("BGREWRITEAOF");
        await WaitUntilAsync(async () => ((string?)await db.ExecuteAsync("INFO", "persistence"))!.Contains("aof_rewrite_in_progress:0", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the AOF is rewritten");
        await PublishAsync(new StreamProducer<TestMessage>(redis, stream), 200, "b");
        await ConsumeAllAsync(500);
        await server.RestartAsync();

        var status = await StreamStatus.ReadAsync(db, stream.Name);
        var group = status.Groups.Single();
        output.WriteLine($"after the reload: lag {group.Lag?.ToString() ?? "none"}, length {status.Length}, pending {group.Pending}");
        Assert.Equal(0, group.Pending);
        Assert.True(status.Backlog <= status.Length, $"backlog {status.Backlog} is bounded by the stream's {status.Length} entries");

        // A producer whose high-water mark is below the stale lag still gets its batch through, and the consumer's
        // maintenance sets Redis's own lag (what KEDA scales on) right again.
        var producer = new StreamProducer<TestMessage>(redis, stream, new StreamProducerOptions { HighWaterMark = 150 });
        using var stopLast = new CancellationTokenSource();
        var last = new StreamConsumer<TestMessage>(redis, stream, new CountingHandler(redis, results, TimeSpan.Zero), options, Log).RunAsync(stopLast.Token);
        await PublishAsync(producer, 100, "c").WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(async () => await db.HashLengthAsync(results) == 600 && await PendingAsync(db, stream.Name) == 0,
            TimeSpan.FromSeconds(30), "the new batch is handled");
        await WaitUntilAsync(async () => (await db.StreamGroupInfoAsync(stream.Name)).Single().Lag == 0, TimeSpan.FromSeconds(10), "Redis reports lag 0");
        await stopLast.CancelAsync();
        await last;
        await AssertEachCountedOnceAsync(db, results, 600);
    }

    [Fact]
    public async Task Graceful_shutdown_finishes_in_flight_handlers_and_hands_the_rest_back_at_once()
    {
        var stream = New();
        var results = $"{stream.Name}:results";
        await PublishAsync(new StreamProducer<TestMessage>(fx.Redis, stream), 20);

        var slowOptions = FastOptions("first", concurrency: 2);
        slowOptions.VisibilityTimeout = TimeSpan.FromSeconds(30); // a handback must not wait for this
        var slow = new CountingHandler(fx.Redis, results, TimeSpan.FromMilliseconds(300));
        using var stopFirst = new CancellationTokenSource();
        var first = new StreamConsumer<TestMessage>(fx.Redis, stream, slow, slowOptions, Log).RunAsync(stopFirst.Token);
        await WaitUntilAsync(() => Task.FromResult(slow.Invocations >= 2), TimeSpan.FromSeconds(10), "two handlers run");
        await stopFirst.CancelAsync();
        await first;

        // Whatever started finished and was acknowledged; nothing else was touched.
        Assert.Equal(slow.Invocations, (int)await Db.HashLengthAsync(results));
        Assert.InRange(slow.Invocations, 2, 19);

        var secondOptions = FastOptions("second");
        secondOptions.VisibilityTimeout = TimeSpan.FromSeconds(30);
        using var stopSecond = new CancellationTokenSource();
        var second = new StreamConsumer<TestMessage>(fx.Redis, stream, new CountingHandler(fx.Redis, results, TimeSpan.Zero), secondOptions, Log).RunAsync(stopSecond.Token);
        // The wait gives up before the visibility timeout could free anything: only entries handed back can finish it.
        await WaitUntilAsync(async () => await Db.HashLengthAsync(results) == 20 && await PendingAsync(Db, stream.Name) == 0,
            TimeSpan.FromSeconds(20), "the second consumer finishes the rest, handed back at once");
        await stopSecond.CancelAsync();
        await second;
        await AssertEachCountedOnceAsync(Db, results, 20);
    }

    [Fact]
    public async Task One_housekeeping_pass_trims_beyond_the_approximate_trims_limit()
    {
        // Redis removes at most 10,000 entries per approximate XTRIM; a busy pipeline acknowledges more than that between
        // two passes, and its streams grew with the run until a pass trimmed again and again.
        var stream = New();
        var results = $"{stream.Name}:results";
        await PublishAsync(new StreamProducer<TestMessage>(fx.Redis, stream, new StreamProducerOptions { HighWaterMark = 0 }), 25_000);
        var options = FastOptions("c");
        options.MaintenanceInterval = TimeSpan.FromHours(1); // one pass as the consumer starts, none after
        using (var stop = new CancellationTokenSource())
        {
            var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, new CountingHandler(fx.Redis, results, TimeSpan.Zero), options, Log).RunAsync(stop.Token);
            await WaitUntilAsync(async () => await Db.HashLengthAsync(results) == 25_000, TimeSpan.FromSeconds(60), "all handled");
            await stop.CancelAsync();
            await consumer;
        }
        Assert.True(await Db.StreamLengthAsync(stream.Name) > 20_000, "acknowledged but not trimmed yet");
        using (var stop = new CancellationTokenSource())
        {
            var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, new CountingHandler(fx.Redis, results, TimeSpan.Zero), options, Log).RunAsync(stop.Token);
            await WaitUntilAsync(async () => await Db.StreamLengthAsync(stream.Name) < 200, TimeSpan.FromSeconds(10), "the next start's single pass trims them all");
            await stop.CancelAsync();
            await consumer;
        }
    }

    [Fact]
    public async Task Acknowledged_entries_are_trimmed_so_the_stream_holds_only_the_backlog()
    {
        var stream = New();
        var results = $"{stream.Name}:results";
        await PublishAsync(new StreamProducer<TestMessage>(fx.Redis, stream), 2000);
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, new CountingHandler(fx.Redis, results, TimeSpan.Zero), FastOptions("c"), Log).RunAsync(stop.Token);
        await WaitUntilAsync(async () => await Db.HashLengthAsync(results) == 2000, TimeSpan.FromSeconds(30), "all handled");
        // Approximate trimming (MINID ~) removes whole internal nodes of 100 entries.
        await WaitUntilAsync(async () => await Db.StreamLengthAsync(stream.Name) < 200, TimeSpan.FromSeconds(10), "the stream is trimmed");
        await stop.CancelAsync();
        await consumer;
    }

    [Fact]
    public async Task The_trace_context_of_the_publisher_is_the_parent_of_the_handler_span()
    {
        var stream = New();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is MessagingTelemetry.Name or "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("test");

        ActivityTraceId published;
        using (var parent = testSource.StartActivity("feed"))
        {
            Assert.NotNull(parent);
            published = parent.TraceId;
            await new StreamProducer<TestMessage>(fx.Redis, stream).PublishAsync(new TestMessage(1, "traced"), "t1");
        }

        var handler = new TraceRecordingHandler();
        using var stop = new CancellationTokenSource();
        var consumer = new StreamConsumer<TestMessage>(fx.Redis, stream, handler, FastOptions("c"), Log).RunAsync(stop.Token);
        var seen = await handler.Seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await consumer;
        Assert.Equal(published, seen);
    }

    [Fact]
    public async Task ProcessOnce_applies_concurrent_duplicates_exactly_once()
    {
        var key = $"once-test:{Guid.NewGuid():N}";
        var attempts = await Task.WhenAll(Enumerable.Range(0, 20).Select(attempt =>
            ProcessOnce.ExecuteAsync(Db, key, "k", writes => writes.StringIncrement(key))));
        Assert.Single(attempts, applied => applied);
        Assert.Equal(1, (int)await Db.StringGetAsync(key));
        Assert.True(await ProcessOnce.IsDoneAsync(Db, key, "k"));
    }

    [Fact]
    public async Task ProcessOnce_applies_all_or_nothing_and_a_settled_key_changes_nothing()
    {
        var scope = $"once-all:{Guid.NewGuid():N}";
        var (stream, counters, final) = ($"{scope}:stream", $"{scope}:counters", $"{scope}:final");
        byte[] payload = [0, 255, 10, 13, (byte)'"', 0xC3, 0x28];
        void Writes(OnceWrites writes)
        {
            writes.StreamAdd(stream, [new("key", "a/b"), new("payload", payload)]);
            writes.HashIncrement(counters, "samples", 3);
        }

        Assert.True(await ProcessOnce.ExecuteAllAsync(Db, scope, ["a", "b"], Writes, retention: TimeSpan.FromMinutes(5)));
        var entry = Assert.Single(await Db.StreamRangeAsync(stream));
        Assert.Equal("a/b", entry["key"].ToString());
        Assert.Equal(payload, (byte[])entry["payload"]!);
        Assert.Equal(3, (long)await Db.HashGetAsync(counters, "samples"));
        Assert.InRange((await Db.KeyTimeToLiveAsync(ProcessOnce.MarkerKey(scope, "b")))!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));

        // One of the keys done before: none of the writes, and the new key stays unmarked.
        Assert.False(await ProcessOnce.ExecuteAllAsync(Db, scope, ["b", "c"], Writes));
        Assert.False(await ProcessOnce.IsDoneAsync(Db, scope, "c"));
        // Settled (its query final, markers gone): nothing either.
        await Db.SetAddAsync(final, "q");
        Assert.False(await ProcessOnce.ExecuteAsync(Db, scope, "d", Writes, settled: new SetMember(final, "q")));
        Assert.False(await ProcessOnce.IsDoneAsync(Db, scope, "d"));
        Assert.Equal(1, await Db.StreamLengthAsync(stream));
        Assert.Equal(3, (long)await Db.HashGetAsync(counters, "samples"));
        // Not settled for another member: applied.
        Assert.True(await ProcessOnce.ExecuteAsync(Db, scope, "d", Writes, settled: new SetMember(final, "other")));
        Assert.Equal(2, await Db.StreamLengthAsync(stream));
    }

    private Process StartCrashWorker(string stream, string results, int handlerDelayMs)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "AmDistill.Messaging.CrashWorker.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, fx.Server.ConnectionString, stream, "g", results, handlerDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        Assert.Equal("ready", process.StandardOutput.ReadLine());
        return process;
    }

    private sealed class ThrowingHandler(string poisonText) : IMessageHandler<TestMessage>
    {
        private int _poisonAttempts;
        private int _handled;
        public int PoisonAttempts => _poisonAttempts;
        public int Handled => _handled;

        public Task HandleAsync(MessageContext<TestMessage> context, CancellationToken cancellationToken)
        {
            if (context.Message.Text == poisonText)
            {
                Interlocked.Increment(ref _poisonAttempts);
                throw new InvalidOperationException("cannot digest poison");
            }
            Interlocked.Increment(ref _handled);
            return Task.CompletedTask;
        }
    }

    private sealed class TraceRecordingHandler : IMessageHandler<TestMessage>
    {
        public TaskCompletionSource<ActivityTraceId> Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HandleAsync(MessageContext<TestMessage> context, CancellationToken cancellationToken)
        {
            Seen.TrySetResult(Activity.Current?.TraceId ?? default);
            return Task.CompletedTask;
        }
    }
}
