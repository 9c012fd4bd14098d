package dev.karta.server.webhooks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A webhook receiver on 127.0.0.1 for tests: it records every request, checks its Standard
 * Webhooks signature with its own implementation of the specification (not the server's), and
 * answers {@link #answer} (200 unless a test says otherwise). It can be stopped and started again
 * on the same port, as a receiver that is down for a while.
 */
final class Receiver implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One request as received; {@code verified} says whether its signature matched the secret then known. */
    record Received(String id, String timestamp, String signature, String body, boolean verified, String path) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String type() {
            return json().get("type").asText();
        }
    }

    final List<Received> received = new CopyOnWriteArrayList<>();
    final AtomicInteger answer = new AtomicInteger(200);
    /** Answers left to give with {@link #answer}'s value before going back to 200; negative: forever. */
    final AtomicInteger failuresLeft = new AtomicInteger(-1);
    private volatile String secret;
    private HttpServer server;
    /** The port, kept across {@link #down()} and {@link #up()}; 0 before the first start. */
    private volatile int port;

    private Receiver() {
    }

    static Receiver start() {
        Receiver r = new Receiver();
        r.up();
        return r;
    }

    int port() {
        return port;
    }

    String url() {
        return "http://127.0.0.1:" + port() + "/hooks";
    }

    void secret(String value) {
        this.secret = value;
    }

    String secret() {
        return secret;
    }

    synchronized void up() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
            server.createContext("/", this::handle);
            server.start();
            port = server.getAddress().getPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops answering; the port is refused until {@link #up()}. */
    synchronized void down() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        byte[] bytes = exchange.getRequestBody().readAllBytes();
        String body = new String(bytes, StandardCharsets.UTF_8);
        String id = exchange.getRequestHeaders().getFirst("webhook-id");
        String timestamp = exchange.getRequestHeaders().getFirst("webhook-timestamp");
        String signature = exchange.getRequestHeaders().getFirst("webhook-signature");
        received.add(new Received(id, timestamp, signature, body, verify(secret, id, timestamp, body, signature),
                exchange.getRequestURI().getPath()));
        int status = 200;
        int left = failuresLeft.get();
        if (left != 0) {
            status = answer.get();
            if (left > 0) {
                failuresLeft.decrementAndGet();
            }
        }
        if (status >= 300 && status < 400) {
            exchange.getResponseHeaders().add("Location", "http://127.0.0.1:" + port() + "/elsewhere");
        }
        exchange.sendResponseHeaders(status, -1);
        exchange.close();
    }

    /** The Standard Webhooks check, written from the specification: any of the space-separated v1 signatures. */
    static boolean verify(String secret, String id, String timestamp, String body, String header) {
        if (secret == null || id == null || timestamp == null || header == null) {
            return false;
        }
        try {
            byte[] key = Base64.getDecoder().decode(secret.replaceFirst("^whsec_", ""));
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] expected = mac.doFinal((id + "." + timestamp + "." + body).getBytes(StandardCharsets.UTF_8));
            for (String part : header.split(" ")) {
                String[] versioned = part.split(",", 2);
                if (versioned.length == 2 && versioned[0].equals("v1")
                        && MessageDigest.isEqual(expected, Base64.getDecoder().decode(versioned[1]))) {
                    return true;
                }
            }
            return false;
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    List<String> types() {
        List<String> out = new ArrayList<>();
        received.forEach(r -> out.add(r.type()));
        return out;
    }

    @Override
    public synchronized void close() {
        server.stop(0);
    }
}
