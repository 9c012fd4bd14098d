package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Header values are case-sensitive (RFC 9110 §5.5): the server must see exactly what the client
 * sent, also on a kept-alive connection that carried a similar value before. Each test uses its
 * own client, so all its requests share one connection.
 */
class HeaderCaseTest {
    @TempDir
    static Path dataDir;
    static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.start(dataDir);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void case_swapped_key_is_rejected_on_a_new_connection() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThat(send(client, "/whoami", "Authorization", "Bearer " + swapCase(server.adminKey())).statusCode())
                .isEqualTo(401);
    }

    @Test
    void case_swapped_key_is_rejected_on_a_reused_connection() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThat(send(client, "/whoami", "Authorization", "Bearer " + server.adminKey()).statusCode()).isEqualTo(200);

        HttpResponse<String> swapped = send(client, "/whoami", "Authorization", "Bearer " + swapCase(server.adminKey()));

        assertThat(swapped.statusCode()).as(swapped.body()).isEqualTo(401);
    }

    @Test
    void request_id_is_echoed_exactly_on_a_reused_connection() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThat(send(client, "/healthz", "X-Request-Id", "TRACE-A").headers().firstValue("X-Request-Id"))
                .contains("TRACE-A");

        assertThat(send(client, "/healthz", "X-Request-Id", "trace-a").headers().firstValue("X-Request-Id"))
                .contains("trace-a");
    }

    private static HttpResponse<String> send(HttpClient client, String path, String header, String value)
            throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(server.uri(path)).header(header, value).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String swapCase(String key) {
        StringBuilder out = new StringBuilder("kt_live_");
        for (char c : key.substring(8).toCharArray()) {
            out.append(Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c));
        }
        return out.toString();
    }
}
