import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Iterator;

/**
 * The client side of bench/logs.sh: N tailing SSE clients of one project, all on ONE thread
 * (non-blocking sockets and a selector), so the client costs little CPU and the figures are the
 * server's. Each "lat <epoch micros>" entry is timed from its write to its receipt; the run ends
 * when every client has seen "done" (or at the deadline) and prints latency percentiles. With
 * PREFIX, the messages are "PREFIX lat …" and "PREFIX done" (bench/replicas.sh: "builder: ", the
 * lines of an image build as its log shows them).
 * Usage: java LogTailers.java PORT KEY PROJECT CLIENTS DEADLINE_SECONDS [PREFIX]
 */
public class LogTailers {
    static final int BUCKETS = 100_000; // 0.1 ms each, up to 10 s
    static final long[] histogram = new long[BUCKETS + 1];
    static byte[] LAT;
    static byte[] DONE;

    /** One connection's state: whether its headers are in, and a partial line carried over. */
    static final class Client {
        boolean headersDone;
        boolean sawDone;
        int status;
        byte[] carry = new byte[0];
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String key = args[1];
        String project = args[2];
        int clients = Integer.parseInt(args[3]);
        long deadline = System.nanoTime() + Long.parseLong(args[4]) * 1_000_000_000L;
        String prefix = args.length > 5 ? args[5] : "";
        LAT = ("\"message\":\"" + prefix + "lat ").getBytes(StandardCharsets.UTF_8);
        DONE = ("\"message\":\"" + prefix + "done\"").getBytes(StandardCharsets.UTF_8);
        byte[] request = ("GET /agent_projects/" + project + "/logs?tail=true&limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer " + key + "\r\nAccept: text/event-stream\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        Selector selector = Selector.open();
        for (int i = 0; i < clients; i++) {
            SocketChannel channel = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            channel.write(ByteBuffer.wrap(request));
            channel.configureBlocking(false);
            channel.register(selector, SelectionKey.OP_READ, new Client());
        }
        ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
        int connected = 0;
        int done = 0;
        int failed = 0;
        long received = 0;
        boolean announced = false;
        boolean reported = false;
        int open = clients;
        // Reports once every client has seen "done", then keeps reading (the server side measures
        // write throughput with the tailers still attached) until killed, the deadline or all closed.
        while (open > 0 && System.nanoTime() < deadline) {
            if (!reported && done + failed >= clients) {
                report(clients, done, received, failed);
                reported = true;
            }
            if (!announced && connected + failed == clients) {
                System.out.println("CONNECTED " + connected);
                announced = true;
            }
            selector.select(1000);
            long now = nowMicros();
            for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                SelectionKey selected = it.next();
                it.remove();
                Client client = (Client) selected.attachment();
                SocketChannel channel = (SocketChannel) selected.channel();
                buffer.clear();
                int n;
                try {
                    n = channel.read(buffer);
                } catch (IOException e) {
                    n = -1;
                }
                if (n < 0) {
                    selected.cancel();
                    channel.close();
                    open--;
                    if (!client.sawDone) {
                        failed++;
                    }
                    continue;
                }
                byte[] bytes = new byte[client.carry.length + n];
                System.arraycopy(client.carry, 0, bytes, 0, client.carry.length);
                System.arraycopy(buffer.array(), 0, bytes, client.carry.length, n);
                int lineStart = 0;
                for (int i = 0; i < bytes.length; i++) {
                    if (bytes[i] != '\n') {
                        continue;
                    }
                    if (!client.headersDone) {
                        if (client.status == 0) {
                            client.status = Integer.parseInt(new String(bytes, lineStart + 9, 3, StandardCharsets.US_ASCII));
                            if (client.status == 200) {
                                connected++;
                            } else {
                                System.out.println("client failed: HTTP " + client.status);
                            }
                        } else if (i - lineStart <= 1) {
                            client.headersDone = true;
                        }
                    } else {
                        int at = indexOf(bytes, LAT, lineStart, i);
                        if (at >= 0) {
                            long written = 0;
                            for (int d = at + LAT.length; bytes[d] >= '0' && bytes[d] <= '9'; d++) {
                                written = written * 10 + (bytes[d] - '0');
                            }
                            histogram[(int) Math.min(BUCKETS, Math.max(0, (now - written) / 100))]++;
                            received++;
                        } else if (!client.sawDone && indexOf(bytes, DONE, lineStart, i) >= 0) {
                            client.sawDone = true;
                            done++;
                        }
                    }
                    lineStart = i + 1;
                }
                client.carry = java.util.Arrays.copyOfRange(bytes, lineStart, bytes.length);
            }
        }
        if (!reported) {
            report(clients, done, received, failed);
        }
    }

    static void report(int clients, int done, long received, int failed) {
        System.out.println("DONE " + done + " of " + clients + " clients saw the end; received " + received
                + " timed entries; dropped connections " + failed);
        long count = 0;
        for (long c : histogram) {
            count += c;
        }
        System.out.printf("LATENCY n=%d p50=%.1fms p90=%.1fms p99=%.1fms p999=%.1fms max=%.1fms%n", count,
                percentile(count, 0.50), percentile(count, 0.90), percentile(count, 0.99),
                percentile(count, 0.999), percentile(count, 1.0));
    }

    static int indexOf(byte[] bytes, byte[] pattern, int from, int to) {
        outer:
        for (int i = from; i <= to - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (bytes[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    static double percentile(long count, double p) {
        long rank = Math.max(1, (long) Math.ceil(count * p));
        long seen = 0;
        for (int i = 0; i <= BUCKETS; i++) {
            seen += histogram[i];
            if (seen >= rank) {
                return i / 10.0;
            }
        }
        return Double.NaN;
    }

    static long nowMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
    }
}
