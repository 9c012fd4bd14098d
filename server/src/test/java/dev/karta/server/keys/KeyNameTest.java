package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** Key names are shown in tables and logs: plain text of one line, never terminal escapes. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class KeyNameTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;
    TestServer server;

    @BeforeEach
    void start() {
        server = database.start(dataDir);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void a_key_name_with_control_characters_is_rejected_with_400() {
        for (String name : new String[] {"ci\\u001b[2J", "two\\nlines", "bell\\u0007", "csi\\u009b31m", "del\\u007f"}) {
            Response created = server.post("/api_keys", server.adminKey(),
                    "{\"name\":\"" + name + "\",\"scopes\":[\"read\"]}");

            assertThat(created.status()).as(name).isEqualTo(400);
            assertThat(created.json().get("message").asText()).contains("control characters");
        }
        assertThat(server.get("/api_keys", server.adminKey()).json().get("api_keys")).hasSize(1);
    }

    @Test
    void a_key_name_with_a_tab_and_unicode_is_accepted() {
        Response created = server.post("/api_keys", server.adminKey(), "{\"name\":\"déploiement\\tci ✓\",\"scopes\":[\"read\"]}");

        assertThat(created.status()).as(created.body()).isEqualTo(201);
    }
}
