package dev.karta.server.webhooks;

import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verification snippet of docs/webhooks.md, run exactly as printed with python3, accepts a
 * real delivery and refuses it once its body or secret is changed.
 */
class VerificationDocTest {
    private static final Path DOC = Path.of("..", "docs", "webhooks.md");

    @TempDir
    Path dir;

    /** The Python block under "Verifying a delivery". */
    static String snippet() throws IOException {
        String doc = Files.readString(DOC);
        String section = doc.substring(doc.indexOf("## Verifying a delivery"));
        int start = section.indexOf("```python\n") + "```python\n".length();
        return section.substring(start, section.indexOf("```", start));
    }

    private String runPython(String secret, Receiver.Received got, String body) throws Exception {
        Path script = dir.resolve("verify.py");
        Files.writeString(script, snippet() + "\n"
                + "import json, sys\n"
                + "args = json.load(open(sys.argv[1]))\n"
                + "print(verify(args['secret'], args['headers'], args['body'].encode()))\n");
        Path input = dir.resolve("input.json");
        Files.writeString(input, new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(java.util.Map.of(
                "secret", secret, "body", body, "headers", java.util.Map.of("webhook-id", got.id(),
                        "webhook-timestamp", got.timestamp(), "webhook-signature", got.signature()))));
        Process python = new ProcessBuilder(List.of("python3", script.toString(), input.toString()))
                .redirectErrorStream(true).start();
        String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(python.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(python.exitValue()).as(out).isZero();
        return out.trim();
    }

    @Test
    void the_documented_python_check_accepts_a_real_delivery_and_refuses_a_changed_one() throws Exception {
        try (Receiver receiver = Receiver.start();
             TestServer server = TestServer.start(TestServer.config(dir.resolve("data"), TestServer.randomKey())
                     .withWebhooks(WebhookFixture.fast()))) {
            endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
            String secret = receiver.secret();
            server.createKey("ci", "read");
            await().atMost(Duration.ofSeconds(20)).until(() -> receiver.received.size() == 1);
            Receiver.Received got = receiver.received.get(0);

            assertThat(runPython(secret, got, got.body())).isEqualTo("True");
            assertThat(runPython(secret, got, got.body().replace("\"ci\"", "\"cj\""))).isEqualTo("False");
            assertThat(runPython(WebhookEndpoints.newSecret(), got, got.body())).isEqualTo("False");
        }
    }
}
