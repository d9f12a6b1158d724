using System.Net;
using System.Net.Sockets;

namespace AmDistill.Bench.Benchmarks;

internal static class LoopbackPort
{
    /// <summary>A port free on 127.0.0.1 now, for a child process to listen on.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
