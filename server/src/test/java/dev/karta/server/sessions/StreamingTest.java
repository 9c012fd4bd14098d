package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streamed messages: {@code "stream":true} or {@code Accept: text/event-stream} answer an SSE
 * stream of {@code message.delta} events then {@code message.completed}, or {@code error} when the
 * harness fails after the turn started. Errors before the turn starts stay plain JSON.
 */
class StreamingTest {
    @TempDir
    static Path dir;
    static SessionFixture f;
    static final ObjectMapper JSON = new ObjectMapper();

    /** One SSE event: its name and parsed data. */
    record Event(String name, JsonNode data) {
    }

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir);
        f.publish("streamed", SessionFixture.claudeApp("streamed answer"));
        f.publish("streamed-oc", SessionFixture.opencodeApp("streamed oc"));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void stream_true_sends_deltas_then_the_completed_message() {
        String session = f.open("streamed");
        Response r = f.stream("streamed", session, "parts", false);

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("Content-Type")).startsWith("text/event-stream");
        List<Event> events = events(r.body());
        assertThat(events).extracting(Event::name).containsExactly("message.delta", "message.delta", "message.completed");
        String id = events.get(2).data().at("/message/id").asText();
        assertThat(id).startsWith("msg_");
        assertThat(events.get(0).data().get("message_id").asText()).isEqualTo(id);
        assertThat(events.get(0).data().get("text").asText()).isEqualTo("first");
        assertThat(events.get(1).data().get("text").asText()).isEqualTo("\n\nsecond");
        assertThat(events.get(2).data().at("/message/role").asText()).isEqualTo("assistant");
        assertThat(events.get(2).data().at("/message/text").asText()).isEqualTo("first\n\nsecond");
        assertThat(f.session("streamed", session).json().get("turns").asInt()).isEqualTo(1);
    }

    @Test
    void accept_event_stream_streams_too() {
        Response r = f.stream("streamed-oc", f.open("streamed-oc"), "parts", true);

        assertThat(r.status()).isEqualTo(200);
        List<Event> events = events(r.body());
        assertThat(events).extracting(Event::name).containsExactly("message.delta", "message.delta", "message.completed");
        assertThat(events.get(2).data().at("/message/text").asText()).isEqualTo("first\n\nsecond");
    }

    @Test
    void a_harness_failing_after_the_start_streams_an_error_event() {
        String session = f.open("streamed");
        Response r = f.stream("streamed", session, "exit:7", false);

        assertThat(r.status()).isEqualTo(200);
        List<Event> events = events(r.body());
        assertThat(events).extracting(Event::name).containsExactly("error");
        assertThat(events.get(0).data().get("error").asText()).isEqualTo("harness_failed");
        assertThat(events.get(0).data().get("message").asText()).contains("exited with status 7");
        assertThat(f.session("streamed", session).json().get("status").asText()).isEqualTo("idle");
    }

    @Test
    void a_key_revoked_during_a_streamed_turn_gets_an_error_event_and_nothing_more() throws Exception {
        String key = f.server.createKey("streamer", "write");
        String keyId = f.server.get("/whoami", key).json().at("/key/id").asText();
        String session = f.open("streamed");
        HttpRequest request = f.server.request("/v1/projects/streamed/sessions/" + session + "/messages", key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"text\":\"wait:revoked-turn\",\"stream\":true}"))
                .build();
        CompletableFuture<HttpResponse<String>> answer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .build().sendAsync(request, HttpResponse.BodyHandlers.ofString());
        f.awaitWaiting("revoked-turn");

        assertThat(f.server.delete("/api_keys/" + keyId, f.server.adminKey()).status()).isEqualTo(204);
        f.release("revoked-turn");
        HttpResponse<String> r = answer.get(30, TimeUnit.SECONDS);

        assertThat(r.statusCode()).isEqualTo(200);
        List<Event> events = events(r.body());
        assertThat(events).extracting(Event::name).containsExactly("error");
        assertThat(events.get(0).data().get("error").asText()).isEqualTo("unauthorized");
        assertThat(events.get(0).data().get("message").asText()).contains("revoked");
    }

    @Test
    void errors_before_the_turn_starts_are_plain_json() {
        Response unknown = f.stream("streamed", "sess_nope", "hi", true);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("error").asText()).isEqualTo("not_found");

        String session = f.open("streamed");
        f.server.delete("/v1/projects/streamed/sessions/" + session, f.writer);
        Response ended = f.stream("streamed", session, "hi", false);
        assertThat(ended.status()).isEqualTo(409);
        assertThat(ended.json().get("error").asText()).isEqualTo("session_ended");
    }

    static List<Event> events(String body) {
        List<Event> events = new ArrayList<>();
        for (String frame : body.split("\n\n")) {
            String name = null;
            String data = null;
            for (String line : frame.split("\n")) {
                if (line.startsWith("event: ")) {
                    name = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data = line.substring(6);
                }
            }
            if (name != null) {
                try {
                    events.add(new Event(name, JSON.readTree(data)));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        return events;
    }
}
