package dev.karta.server.logs;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw-socket SSE client: sends one GET, de-chunks the answer and parses events and comments on
 * its own thread. Raw, so a test controls exactly what is sent and can drop the connection.
 */
final class SseTestClient implements AutoCloseable {
    /** One parsed event. */
    record Event(String id, String name, String data) {
        JsonNode json() {
            try {
                return LogsHarness.JSON.readTree(data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        long entryId() {
            return Long.parseLong(id);
        }
    }

    final List<Event> events = new CopyOnWriteArrayList<>();
    final AtomicInteger comments = new AtomicInteger();
    /** When each event with an id was parsed ({@link System#nanoTime}), by event id. */
    final Map<String, Long> arrivals = new ConcurrentHashMap<>();
    final AtomicBoolean ended = new AtomicBoolean();
    volatile int status;
    volatile String contentType;
    private final Socket socket;
    private final Thread reader;

    private SseTestClient(Socket socket) {
        this.socket = socket;
        this.reader = new Thread(this::read, "sse-test-client");
        reader.setDaemon(true);
    }

    /** Connects and sends {@code GET path} with the given extra header pairs. */
    static SseTestClient open(int port, String path, String key, String... headers) {
        try {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            StringBuilder request = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n");
            if (key != null) {
                request.append("Authorization: Bearer ").append(key).append("\r\n");
            }
            for (int i = 0; i < headers.length; i += 2) {
                request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
            }
            request.append("\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            SseTestClient client = new SseTestClient(socket);
            client.reader.start();
            return client;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<Event> logEvents() {
        return events.stream().filter(e -> e.name().equals("log")).toList();
    }

    List<Long> ids() {
        return logEvents().stream().map(Event::entryId).toList();
    }

    List<String> messages() {
        return logEvents().stream().map(e -> e.json().get("message").asText()).toList();
    }

    private void read() {
        try {
            InputStream in = socket.getInputStream();
            String statusLine = line(in);
            status = Integer.parseInt(statusLine.split(" ")[1]);
            boolean chunked = false;
            for (String header = line(in); !header.isEmpty(); header = line(in)) {
                String lower = header.toLowerCase();
                if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                    chunked = true;
                }
                if (lower.startsWith("content-type:")) {
                    contentType = header.substring(13).trim();
                }
            }
            BufferedReader body = new BufferedReader(new InputStreamReader(
                    chunked ? new Dechunker(in) : in, StandardCharsets.UTF_8));
            String id = null;
            String name = "message";
            StringBuilder data = null;
            for (String line = body.readLine(); line != null; line = body.readLine()) {
                if (line.isEmpty()) {
                    if (data != null) {
                        if (id != null) {
                            arrivals.put(id, System.nanoTime());
                        }
                        events.add(new Event(id, name, data.toString()));
                    }
                    id = null;
                    name = "message";
                    data = null;
                } else if (line.startsWith(":")) {
                    comments.incrementAndGet();
                } else if (line.startsWith("id: ")) {
                    id = line.substring(4);
                } else if (line.startsWith("event: ")) {
                    name = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data = data == null ? new StringBuilder(line.substring(6)) : data.append('\n').append(line.substring(6));
                }
            }
        } catch (IOException | RuntimeException e) {
            // connection dropped
        } finally {
            ended.set(true);
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder out = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("connection closed in headers");
            }
            if (c != '\r') {
                out.append((char) c);
            }
        }
        return out.toString();
    }

    /** HTTP/1.1 chunked transfer coding (RFC 9112 §7.1); end of body at the last chunk. */
    private static final class Dechunker extends InputStream {
        private final InputStream in;
        private long left;
        private boolean done;

        Dechunker(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (done) {
                return -1;
            }
            if (left == 0) {
                String size = line(in);
                if (size.isEmpty()) {
                    size = line(in);
                }
                int semi = size.indexOf(';');
                left = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                if (left == 0) {
                    done = true;
                    return -1;
                }
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
                throw new IOException("connection closed in a chunk");
            }
            left -= n;
            return n;
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    static List<Long> range(List<Long> all, long after) {
        List<Long> out = new ArrayList<>();
        for (long id : all) {
            if (id > after) {
                out.add(id);
            }
        }
        return out;
    }
}
