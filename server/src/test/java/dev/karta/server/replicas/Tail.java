package dev.karta.server.replicas;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * {@code karta logs NAME --tail} on one replica: {@code GET /agent_projects/{p}/logs?tail=true}
 * as server-sent events, every line kept as it arrives (read on a thread of its own) until closed.
 */
final class Tail implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    final Replica replica;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final CompletableFuture<HttpResponse<Stream<String>>> response;

    private Tail(Replica replica, String project, String key) {
        this.replica = replica;
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + replica.port + "/agent_projects/"
                        + project + "/logs?tail=true"))
                .header("Authorization", "Bearer " + key).header("Accept", "text/event-stream").GET().build();
        response = HTTP.sendAsync(request, HttpResponse.BodyHandlers.ofLines());
        response.thenAcceptAsync(answer -> {
            lines.add("HTTP " + answer.statusCode());
            try (Stream<String> body = answer.body()) {
                body.forEach(lines::add);
            } catch (RuntimeException e) {
                lines.add("closed: " + e);
            }
        });
    }

    static Tail open(Replica replica, String project, String key) {
        return new Tail(replica, project, key);
    }

    /** Whether a {@code data:} line received so far contains {@code text}. */
    boolean saw(String text) {
        return lines.stream().anyMatch(line -> line.startsWith("data:") && line.contains(text));
    }

    /** Whether the stream answered and sent its first event (the replayed tail of the log, or a comment). */
    boolean connected() {
        return lines.contains("HTTP 200") && lines.size() > 1;
    }

    List<String> lines() {
        return List.copyOf(lines);
    }

    @Override
    public void close() {
        response.thenAccept(answer -> answer.body().close());
        response.cancel(true);
    }

    @Override
    public String toString() {
        return "tail on " + replica + ": " + lines;
    }
}
