package dev.karta.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A scripted HTTP server for what a real server cannot be made to do on demand (a superseded
 * deploy, a dropped build log stream) and for checking the exact requests the CLI sends: it
 * answers what each test tells it to and records every request. End-to-end behaviour is tested
 * against the real server ({@link TestServer}).
 * Built on the JDK's com.sun.net.httpserver, so it speaks real HTTP and real SSE.
 */
final class FakeKarta implements AutoCloseable {

    /** What a route does with one request. */
    interface Route {
        void handle(HttpExchange exchange, Request request) throws IOException;
    }

    /** A request as received: headers are lower-cased names, first value; query as sent, or null. */
    record Request(String method, String path, String query, Map<String, String> headers, byte[] body) {
        String header(String name) {
            return headers.get(name.toLowerCase());
        }
    }

    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Map<String, Route> routes = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    FakeKarta() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(threads);
        server.createContext("/", this::dispatch);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    FakeKarta on(String method, String path, Route route) {
        routes.put(method + " " + path, route);
        return this;
    }

    List<Request> requests(String method, String path) {
        return requests.stream().filter(r -> r.method().equals(method) && r.path().equals(path)).toList();
    }

    private void dispatch(HttpExchange exchange) throws IOException {
        Map<String, String> headers = new ConcurrentHashMap<>();
        exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(), values.get(0)));
        Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                exchange.getRequestURI().getRawQuery(), headers,
                exchange.getRequestBody().readAllBytes());
        requests.add(request);
        Route route = routes.get(request.method() + " " + request.path());
        try {
            if (route == null) {
                json(exchange, 404, "{\"error\":\"not_found\",\"message\":\"no route for " + request.method() + " "
                        + request.path() + "\"}");
            } else {
                route.handle(exchange, request);
            }
        } finally {
            exchange.close();
        }
    }

    static void json(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    /** Starts an SSE answer; write events to the returned stream, closing the exchange ends it. */
    static OutputStream sse(HttpExchange exchange) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        return exchange.getResponseBody();
    }

    static void event(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    static String logEvent(long id, String message) {
        return "event: log\nid: " + id + "\ndata: {\"id\":" + id + ",\"time\":\"2026-06-01T10:00:00Z\",\"source\":\"build\","
                + "\"deploy_id\":\"dep_1\",\"message\":\"" + message + "\"}\n\n";
    }

    static String deployJson(String status, String release, String error) {
        return "{\"id\":\"dep_1\",\"project\":\"shop\",\"commit_sha\":\"0123456789abcdef\",\"source\":\"upload\","
                + "\"status\":\"" + status + "\",\"release\":" + quoted(release) + ",\"error\":" + quoted(error)
                + ",\"created_at\":\"2026-06-01T10:00:00Z\",\"started_at\":null,\"finished_at\":null}";
    }

    static String endEvent(String status, String release, String error) {
        return "event: end\ndata: " + deployJson(status, release, error) + "\n\n";
    }

    private static String quoted(String value) {
        return value == null ? "null" : "\"" + value + "\"";
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
