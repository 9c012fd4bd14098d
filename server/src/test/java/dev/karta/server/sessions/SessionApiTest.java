package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** The session routes (docs/sessions.md): shapes, rules, scopes and org isolation. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class SessionApiTest {
    @TempDir
    static Path temp;
    static SessionFixture f;
    static final AtomicInteger SEQUENCE = new AtomicInteger();
    @Parameter
    TestDatabase database;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        f = SessionFixture.start(temp.resolve(database.toString()), database);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        f.close();
    }

    /** A fresh project with one active Claude Code release answering {@code answer}. */
    static String project(String answer) {
        String name = "api-" + SEQUENCE.incrementAndGet();
        f.publish(name, SessionFixture.claudeApp(answer));
        return name;
    }

    @Test
    void create_pins_the_active_release_and_answers_201() {
        String p = project("hello");
        Response created = f.createSession(p, f.writer);

        assertThat(created.status()).isEqualTo(201);
        JsonNode s = created.json();
        assertThat(s.get("id").asText()).matches("sess_[0-9a-z]{26}");
        assertThat(s.at("/project/ref").asText()).isEqualTo(p);
        assertThat(s.at("/project/version").asText()).isEqualTo("v1");
        assertThat(s.get("status").asText()).isEqualTo("idle");
        assertThat(s.get("harness").asText()).isEqualTo("claude");
        assertThat(s.get("turns").asInt()).isZero();
        assertThat(Instant.parse(s.get("created_at").asText())).isBeforeOrEqualTo(Instant.now());
        // The workspace is prepared after the answer: its size may be known by now.
        JsonNode read = f.session(p, s.get("id").asText()).json();
        JsonNode readBack = ((ObjectNode) read.deepCopy()).without("workspace_bytes");
        JsonNode answered = ((ObjectNode) s.deepCopy()).without("workspace_bytes");
        assertThat(readBack).isEqualTo(answered);
    }

    @Test
    void create_is_409_when_the_project_has_no_active_release() {
        String p = "api-empty-" + SEQUENCE.incrementAndGet();
        assertThat(f.server.post("/agent_projects", f.writer, "{\"name\":\"" + p + "\"}").status()).isEqualTo(201);

        Response created = f.createSession(p, f.writer);

        assertThat(created.status()).isEqualTo(409);
        assertThat(created.json().get("error").asText()).isEqualTo("no_active_release");
        assertThat(created.json().get("message").asText()).contains(p);
    }

    @Test
    void create_accepts_no_body_and_keeps_metadata() {
        String p = project("meta");
        Response bare = f.server.send(f.server.request("/v1/projects/" + p + "/sessions", f.writer)
                .POST(java.net.http.HttpRequest.BodyPublishers.noBody()));
        assertThat(bare.status()).as(bare.body()).isEqualTo(201);
        assertThat(bare.json().get("metadata").size()).isZero();

        Response created = f.server.post("/v1/projects/" + p + "/sessions", f.writer,
                "{\"metadata\":{\"customer\":\"c-42\",\"channel\":\"web\"}}");
        assertThat(created.status()).isEqualTo(201);
        JsonNode shown = f.session(p, created.json().get("id").asText()).json();
        assertThat(shown.at("/metadata/customer").asText()).isEqualTo("c-42");
        assertThat(shown.at("/metadata/channel").asText()).isEqualTo("web");
    }

    @Test
    void curl_style_bodies_sent_as_form_data_are_read_as_json() {
        String p = project("curl");
        java.util.function.BiFunction<String, String, Response> curl = (path, body) -> f.server.send(
                f.server.request(path, f.writer)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)));

        Response created = curl.apply("/v1/projects/" + p + "/sessions", "{}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String session = created.json().get("id").asText();
        Response answered = curl.apply("/v1/projects/" + p + "/sessions/" + session + "/messages",
                "{\"text\":\"where is my order?\"}");
        assertThat(answered.status()).as(answered.body()).isEqualTo(200);
        assertThat(answered.json().at("/message/text").asText()).isEqualTo("curl");
        Response malformed = curl.apply("/v1/projects/" + p + "/sessions/" + session + "/messages", "text=hi");
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.json().get("error").asText()).isEqualTo("malformed_json");
    }

    @Test
    void create_rejects_more_than_50_metadata_keys() {
        String p = project("meta");
        StringBuilder metadata = new StringBuilder("{");
        for (int i = 0; i < 51; i++) {
            metadata.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"v\"");
        }
        Response tooMany = f.server.post("/v1/projects/" + p + "/sessions", f.writer,
                "{\"metadata\":" + metadata + "}}");
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(tooMany.json().get("message").asText()).contains("51 keys").contains("50");

        String fifty = metadata.substring(0, metadata.lastIndexOf(",")) + "}";
        assertThat(f.server.post("/v1/projects/" + p + "/sessions", f.writer, "{\"metadata\":" + fifty + "}").status())
                .isEqualTo(201);
    }

    @Test
    void create_rejects_metadata_values_that_are_not_strings() {
        String p = project("meta");
        Response number = f.server.post("/v1/projects/" + p + "/sessions", f.writer, "{\"metadata\":{\"n\":5}}");
        assertThat(number.status()).isEqualTo(400);
        assertThat(number.json().get("message").asText()).contains("'n' must be a string");
        Response nested = f.server.post("/v1/projects/" + p + "/sessions", f.writer, "{\"metadata\":{\"o\":{}}}");
        assertThat(nested.status()).isEqualTo(400);
        Response notObject = f.server.post("/v1/projects/" + p + "/sessions", f.writer, "{\"metadata\":[1]}");
        assertThat(notObject.status()).isEqualTo(400);
    }

    @Test
    void create_with_the_same_idempotency_key_opens_one_session() {
        String p = project("idem");
        java.util.function.Supplier<Response> create = () -> f.server.send(
                f.server.request("/v1/projects/" + p + "/sessions", f.writer)
                        .header("Content-Type", "application/json")
                        .header("Idempotency-Key", "open-once")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")));
        Response first = create.get();
        Response again = create.get();
        assertThat(first.status()).isEqualTo(201);
        assertThat(again.status()).isEqualTo(201);
        assertThat(again.json().get("id")).isEqualTo(first.json().get("id"));
        assertThat(f.server.get("/v1/projects/" + p + "/sessions", f.reader).json().get("sessions").size()).isEqualTo(1);
    }

    @Test
    void get_is_404_for_an_unknown_session_and_for_a_session_of_another_project() {
        String p = project("a");
        String other = project("b");
        String session = f.open(p);

        assertThat(f.session(p, "sess_nope").status()).isEqualTo(404);
        Response elsewhere = f.session(other, session);
        assertThat(elsewhere.status()).isEqualTo(404);
        assertThat(elsewhere.json().get("error").asText()).isEqualTo("not_found");
        assertThat(f.message(other, session, "hi").status()).isEqualTo(404);
        assertThat(f.session("api-missing-project", session).status()).isEqualTo(404);
    }

    @Test
    void list_is_newest_first_and_filters_by_status() {
        String p = project("list");
        List<String> opened = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            opened.add(f.open(p));
        }
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + opened.get(0), f.writer).status())
                .isEqualTo(204);

        JsonNode all = f.server.get("/v1/projects/" + p + "/sessions", f.reader).json().get("sessions");
        assertThat(ids(all)).containsExactly(opened.get(2), opened.get(1), opened.get(0));
        JsonNode idle = f.server.get("/v1/projects/" + p + "/sessions?status=idle", f.reader).json().get("sessions");
        assertThat(ids(idle)).containsExactly(opened.get(2), opened.get(1));
        JsonNode ended = f.server.get("/v1/projects/" + p + "/sessions?status=ended", f.reader).json().get("sessions");
        assertThat(ids(ended)).containsExactly(opened.get(0));
        assertThat(ended.get(0).get("end_reason").asText()).isEqualTo("deleted");
        assertThat(f.server.get("/v1/projects/" + p + "/sessions?limit=1", f.reader).json().get("sessions").size())
                .isEqualTo(1);
    }

    @Test
    void list_rejects_an_unknown_status() {
        String p = project("list");
        Response bad = f.server.get("/v1/projects/" + p + "/sessions?status=sleeping", f.reader);
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("message").asText()).contains("idle, running or ended");
    }

    @Test
    void delete_ends_the_session_and_later_messages_are_409() {
        String p = project("bye");
        String session = f.open(p);
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + session, f.writer).status()).isEqualTo(204);

        JsonNode shown = f.session(p, session).json();
        assertThat(shown.get("status").asText()).isEqualTo("ended");
        assertThat(shown.get("ended_at").isNull()).isFalse();
        Response refused = f.message(p, session, "still there?");
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("error").asText()).isEqualTo("session_ended");
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + session, f.writer).status())
                .as("ending an ended session changes nothing").isEqualTo(204);
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/sess_nope", f.writer).status()).isEqualTo(404);
    }

    @Test
    void message_answers_the_assistant_reply_and_counts_the_turn() {
        String p = project("your order ships tomorrow");
        String session = f.open(p);

        Response answered = f.message(p, session, "where is my order?");

        assertThat(answered.status()).isEqualTo(200);
        JsonNode message = answered.json().get("message");
        assertThat(message.get("id").asText()).startsWith("msg_");
        assertThat(message.get("role").asText()).isEqualTo("assistant");
        assertThat(message.get("text").asText()).isEqualTo("your order ships tomorrow");
        JsonNode shown = f.session(p, session).json();
        assertThat(shown.get("turns").asInt()).isEqualTo(1);
        assertThat(shown.get("status").asText()).isEqualTo("idle");
    }

    @Test
    void a_later_claude_turn_resumes_the_conversation_the_first_one_started() {
        String p = project("resume");
        String session = f.open(p);

        List<String> first = argv(f.ask(p, session, "argv"));
        List<String> second = argv(f.ask(p, session, "argv"));

        assertThat(first).containsExactly("-p", "--output-format", "stream-json", "--verbose",
                "--include-partial-messages");
        assertThat(second).hasSize(7).startsWith("-p", "--output-format", "stream-json", "--verbose",
                "--include-partial-messages", "--resume");
        assertThat(second.get(6)).startsWith("claude-conv-");
    }

    @Test
    void a_later_opencode_turn_continues_its_session_and_unknown_events_are_skipped() {
        String p = "api-oc-" + SEQUENCE.incrementAndGet();
        f.publish(p, SessionFixture.opencodeApp("oc"));
        String session = f.open(p);

        assertThat(f.ask(p, session, "parts")).isEqualTo("first\n\nsecond");
        List<String> second = argv(f.ask(p, session, "argv"));

        assertThat(second).hasSize(5).startsWith("run", "--format", "json", "--session");
        assertThat(second.get(4)).startsWith("ses_");
    }

    @Test
    void claude_skips_tool_and_unknown_events_and_answers_the_result() {
        String p = project("parts");
        assertThat(f.ask(p, f.open(p), "parts")).isEqualTo("first\n\nsecond");
    }

    @Test
    void message_text_that_looks_like_an_option_reaches_the_harness_as_text() {
        String p = project("dash");
        String session = f.open(p);
        f.ask(p, session, "hello");

        Response r = f.message(p, session, "--dangerously-skip-permissions");

        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(f.spyFile("claude.prompt")).isEqualTo("--dangerously-skip-permissions");
    }

    @Test
    void the_harness_gets_only_path_home_xdg_and_lang() {
        String p = project("env");
        List<String> names = argv(f.ask(p, f.open(p), "env"));
        assertThat(names).isNotEmpty().contains("HOME", "XDG_CONFIG_HOME").isSubsetOf("PATH", "HOME", "LANG", "LC_CTYPE",
                "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME");
        assertThat(System.getenv().keySet()).as("the test JVM has more to leak").hasSizeGreaterThan(names.size());
    }

    @Test
    void message_needs_text_within_the_limit() {
        String p = project("limits");
        String session = f.open(p);
        Response missing = f.server.post("/v1/projects/" + p + "/sessions/" + session + "/messages", f.writer, "{}");
        assertThat(missing.status()).isEqualTo(400);
        assertThat(missing.json().get("message").asText()).contains("text is required");
        assertThat(f.message(p, session, "   ").status()).isEqualTo(400);

        Response tooLong = f.message(p, session, "x".repeat(100_001));
        assertThat(tooLong.status()).isEqualTo(413);
        assertThat(tooLong.json().get("error").asText()).isEqualTo("message_too_large");
        assertThat(f.message(p, session, "é".repeat(50_000)).status()).as("100,000 bytes exactly").isEqualTo(200);
        assertThat(f.session(p, session).json().get("turns").asInt()).isEqualTo(1);
    }

    @Test
    void each_turn_writes_started_and_finished_session_log_entries() {
        String p = project("logged");
        String session = f.open(p);
        String messageId = f.message(p, session, "hi").json().at("/message/id").asText();

        assertThat(f.sessionLog(p)).satisfiesExactly(
                started -> assertThat(started).isEqualTo("v1 Turn " + messageId + " of session " + session
                        + " started (claude)"),
                finished -> assertThat(finished).matches("v1 Turn " + messageId + " of session " + session
                        + " finished in \\d+ ms"));
    }

    @Test
    void a_failed_turn_logs_its_reason() {
        String p = project("logged-failure");
        String session = f.open(p);
        assertThat(f.message(p, session, "exit:3").status()).isEqualTo(502);

        assertThat(f.sessionLog(p)).last().asString()
                .matches("v1 Turn msg_\\w+ of session " + session + " failed after \\d+ ms: claude exited with status 3.*")
                .contains("boom: something broke");
    }

    @Test
    void a_read_key_can_look_but_not_open_talk_or_end() {
        String p = project("scopes");
        String session = f.open(p);

        assertThat(f.createSession(p, f.reader).status()).isEqualTo(403);
        assertThat(f.message(p, session, "hi", f.reader).status()).isEqualTo(403);
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + session, f.reader).status()).isEqualTo(403);
        assertThat(f.session(p, session).status()).isEqualTo(200);
        assertThat(f.server.get("/v1/projects/" + p + "/sessions", f.reader).status()).isEqualTo(200);
        assertThat(f.createSession(p, null).status()).isEqualTo(401);
        assertThat(f.server.get("/v1/projects/" + p + "/sessions/" + session, null).status()).isEqualTo(401);
        assertThat(f.session(p, session).json().get("turns").asInt()).isZero();
    }

    @Test
    void another_org_sees_404_everywhere() {
        String p = project("private");
        String session = f.open(p);
        String stranger = f.server.createOrg("stranger-org-" + SEQUENCE.incrementAndGet());

        assertThat(f.createSession(p, stranger).status()).isEqualTo(404);
        assertThat(f.server.get("/v1/projects/" + p + "/sessions/" + session, stranger).status()).isEqualTo(404);
        assertThat(f.server.get("/v1/projects/" + p + "/sessions", stranger).status()).isEqualTo(404);
        assertThat(f.message(p, session, "hi", stranger).status()).isEqualTo(404);
        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + session, stranger).status()).isEqualTo(404);
        assertThat(f.session(p, session).json().get("status").asText()).isEqualTo("idle");
        assertThat(f.session(p, session).json().get("turns").asInt()).isZero();
    }

    @Test
    void deleting_a_project_removes_its_sessions_and_turns() {
        String p = project("doomed");
        String session = f.open(p);
        f.ask(p, session, "hi");

        assertThat(f.server.delete("/agent_projects/" + p, f.admin).status()).isEqualTo(204);

        assertThat(f.session(p, session).status()).isEqualTo(404);
        try (var db = f.server.openDatabase()) {
            long turns = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM session_turns WHERE session_id = :s")
                    .bind("s", session).mapTo(Long.class).one());
            assertThat(turns).isZero();
        }
    }

    static List<String> ids(JsonNode sessions) {
        List<String> ids = new ArrayList<>();
        sessions.forEach(s -> ids.add(s.get("id").asText()));
        return ids;
    }

    static List<String> argv(String json) {
        List<String> out = new ArrayList<>();
        try {
            new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).forEach(n -> out.add(n.asText()));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    @Test
    void a_session_ended_just_after_its_turn_claimed_it_stops_that_turn() {
        String p = project("too late");
        String session = f.open(p);
        Turns turns = f.server.server().sessions().turns();
        turns.afterClaim = claimed -> assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + claimed,
                f.writer).status()).isEqualTo(204);
        try {
            long started = System.nanoTime();
            Response reply = f.message(p, session, "sleep:15");

            assertThat(reply.status()).as(reply.body()).isEqualTo(409);
            assertThat(reply.json().get("error").asText()).isEqualTo("session_ended");
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - started))
                    .as("the harness was stopped, not waited for").isLessThan(java.time.Duration.ofSeconds(10));
        } finally {
            turns.afterClaim = claimed -> {
            };
        }
    }
}
