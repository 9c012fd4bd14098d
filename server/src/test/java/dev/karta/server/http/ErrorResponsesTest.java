package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every failure is {@code {"error","message"}} with the right status and an X-Request-Id. */
class ErrorResponsesTest {
    @TempDir
    static Path dataDir;
    static TestServer server;
    static String writer;

    @BeforeAll
    static void start() {
        server = TestServer.start(dataDir);
        writer = server.createKey("writer", "write");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Asserts the one error shape: status, code, a sentence, JSON, and a request id. */
    static void assertError(Response response, int status, String code) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.header("Content-Type")).startsWith("application/json");
        JsonNode body = response.json();
        assertThat(body.isObject()).isTrue();
        assertThat(body.size()).as("only error and message: %s", body).isEqualTo(2);
        assertThat(body.path("error").asText()).isEqualTo(code);
        assertThat(body.path("message").asText()).isNotBlank();
        assertThat(response.header("X-Request-Id")).isNotBlank();
    }

    @Test
    void unknown_route_is_404_not_found() {
        assertError(server.get("/no/such/route", server.adminKey()), 404, "not_found");
        assertError(server.get("/no/such/route", null), 404, "not_found");
    }

    @Test
    void wrong_method_is_405_method_not_allowed() {
        assertError(server.send(server.request("/agent_projects", writer)
                .method("PUT", HttpRequest.BodyPublishers.ofString("{}"))), 405, "method_not_allowed");
        assertError(server.delete("/healthz", null), 405, "method_not_allowed");
    }

    @Test
    void malformed_json_is_400_malformed_json() {
        Response response = server.post("/agent_projects", writer, "{\"name\": ");
        assertError(response, 400, "malformed_json");
        assertThat(response.json().get("message").asText()).contains("line 1");
    }

    @Test
    void empty_body_is_400() {
        assertError(server.post("/agent_projects", writer, ""), 400, "bad_request");
    }

    @Test
    void a_body_of_the_wrong_shape_is_400_naming_the_field_not_our_classes() {
        Response array = server.post("/agent_projects", writer, "[]");
        Response field = server.post("/api_keys", server.adminKey(), "{\"name\":\"x\",\"scopes\":\"write\"}");

        assertError(array, 400, "malformed_json");
        assertThat(array.json().get("message").asText()).contains("must be a JSON object").doesNotContain("dev.karta");
        assertError(field, 400, "malformed_json");
        assertThat(field.json().get("message").asText()).contains("'scopes' has the wrong type");
    }

    @Test
    void a_duplicate_field_is_400_naming_the_field_in_plain_words() {
        Response project = server.post("/agent_projects", writer, "{\"name\":\"dup-a\",\"name\":\"dup-b\"}");
        Response nested = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"k\",\"scopes\":[\"read\"],\"scopes\":[\"admin\"]}");

        assertError(project, 400, "malformed_json");
        assertThat(project.json().get("message").asText()).contains("duplicate field \"name\" in the JSON body")
                .doesNotContain("Jackson").doesNotContain("dev.karta").doesNotContain("Duplicate");
        assertError(nested, 400, "malformed_json");
        assertThat(nested.json().get("message").asText()).contains("duplicate field \"scopes\"");
        assertThat(server.get("/agent_projects/dup-a", writer).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/dup-b", writer).status()).isEqualTo(404);
    }

    @Test
    void a_uri_jetty_refuses_still_gets_the_json_error_shape() {
        Response response = server.get("/agent_projects/%00", writer);

        assertThat(response.status()).isEqualTo(400);
        assertThat(response.header("Content-Type")).startsWith("application/json");
        assertThat(response.json().get("error").asText()).isEqualTo("bad_request");
    }

    @Test
    void a_uri_jetty_refuses_closes_the_connection_and_says_so() throws IOException {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /agent_projects/%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);

            // readAllBytes returned: the server closed the connection, after telling the client it would.
            assertThat(answer).startsWith("HTTP/1.1 400").containsIgnoringCase("\r\nConnection: close\r\n");
        }
    }

    @Test
    void curls_default_form_content_type_is_read_as_json() {
        Response response = server.send(server.request("/agent_projects", writer)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"from-curl\"}")));

        assertThat(response.status()).as(response.body()).isEqualTo(201);
    }

    @Test
    void wrong_content_type_is_415() {
        assertError(server.send(server.request("/agent_projects", writer)
                .header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"plain-text\"}"))), 415, "unsupported_media_type");
        assertThat(server.get("/agent_projects/plain-text", writer).status()).isEqualTo(404);
    }

    @Test
    void json_content_type_with_charset_is_accepted() {
        Response response = server.send(server.request("/agent_projects", writer)
                .header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"with-charset\"}")));
        assertThat(response.status()).as(response.body()).isEqualTo(201);
    }

    @Test
    void body_over_the_json_limit_is_413() {
        String big = "{\"name\":\"" + "a".repeat(2 << 20) + "\"}";
        assertError(server.post("/agent_projects", writer, big), 413, "payload_too_large");
    }

    @Test
    void chunked_body_over_the_json_limit_is_413() {
        byte[] big = ("{\"name\":\"" + "a".repeat(2 << 20) + "\"}").getBytes(StandardCharsets.UTF_8);
        Response response = server.send(server.request("/agent_projects", writer)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))));
        assertError(response, 413, "payload_too_large");
    }

    @Test
    void invalid_project_name_is_400() {
        for (String name : new String[] {"Bad_Name", "ab", "-leading", "trailing-", "9starts-with-digit", "a".repeat(41)}) {
            Response response = server.post("/agent_projects", writer, "{\"name\":\"" + name + "\"}");
            assertError(response, 400, "bad_request");
            assertThat(response.json().get("message").asText()).contains("invalid project name");
        }
    }

    @Test
    void missing_project_name_is_400() {
        assertError(server.post("/agent_projects", writer, "{}"), 400, "bad_request");
        assertError(server.post("/agent_projects", writer, "{\"name\":null}"), 400, "bad_request");
        assertError(server.post("/agent_projects", writer, "{\"name\":\"  \"}"), 400, "bad_request");
    }

    @Test
    void taken_project_name_is_409() {
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"taken-name\"}").status()).isEqualTo(201);
        Response again = server.post("/agent_projects", writer, "{\"name\":\"taken-name\"}");
        assertError(again, 409, "conflict");
        assertThat(again.json().get("message").asText()).contains("taken-name");
    }

    @Test
    void missing_project_is_404() {
        assertError(server.get("/agent_projects/never-made", writer), 404, "not_found");
    }

    @Test
    void unauthorized_carries_www_authenticate() {
        Response none = server.get("/agent_projects", null);
        assertError(none, 401, "unauthorized");
        assertThat(none.header("WWW-Authenticate")).startsWith("Bearer");

        Response unknown = server.get("/agent_projects", TestServer.randomKey());
        assertError(unknown, 401, "unauthorized");
        assertThat(unknown.header("WWW-Authenticate")).startsWith("Bearer");
    }

    @Test
    void forbidden_has_the_error_shape_and_no_www_authenticate() {
        Response response = server.delete("/agent_projects/anything", writer);
        assertError(response, 403, "forbidden");
        assertThat(response.header("WWW-Authenticate")).isNull();
    }

    @Test
    void client_request_id_is_echoed_and_a_bad_one_replaced() {
        Response echoed = server.send(server.request("/healthz", null).header("X-Request-Id", "trace-123.abc").GET());
        assertThat(echoed.header("X-Request-Id")).isEqualTo("trace-123.abc");

        Response replaced = server.send(server.request("/healthz", null).header("X-Request-Id", "bad id\twith spaces").GET());
        assertThat(replaced.header("X-Request-Id")).startsWith("req_");
    }

    @Test
    void every_answer_gets_a_distinct_request_id() {
        String first = server.get("/healthz", null).header("X-Request-Id");
        String second = server.get("/healthz", null).header("X-Request-Id");
        assertThat(first).startsWith("req_").isNotEqualTo(second);
    }
}
