package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Metadata keys are names shown one per line; values are text and may span lines. */
class SessionMetadataTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir);
        f.publish("meta", SessionFixture.claudeApp("hi"));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void a_metadata_key_with_control_characters_is_rejected_with_400() {
        Response created = f.server.post("/v1/projects/meta/sessions", f.writer,
                "{\"metadata\":{\"note\\u001b]0;owned\\u0007\":\"x\"}}");

        assertThat(created.status()).as(created.body()).isEqualTo(400);
        assertThat(created.json().get("message").asText()).contains("control characters");
    }

    @Test
    void a_metadata_value_may_span_lines() {
        Response created = f.server.post("/v1/projects/meta/sessions", f.writer,
                "{\"metadata\":{\"note\":\"two\\nlines\"}}");

        assertThat(created.status()).as(created.body()).isEqualTo(201);
    }
}
