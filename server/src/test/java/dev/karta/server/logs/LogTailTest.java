package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Project logs (docs/logs.md), the live side: SSE tails with replay, resume, heartbeats and slow clients. */
class LogTailTest {
    private static final Duration HEARTBEAT = Duration.ofMillis(200);
    private static final int BUFFER = 64 << 10;

    @TempDir
    static Path dataDir;
    static LogsHarness server;

    @BeforeAll
    static void start() {
        server = LogsHarness.start(dataDir, LogsHarness.logs(HEARTBEAT, BUFFER));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static SseTestClient tail(String project, String query, String... headers) {
        return SseTestClient.open(server.port(), "/agent_projects/" + project + "/logs" + query, server.adminKey,
                headers);
    }

    private static void write(String projectId, String prefix, int count) {
        for (int i = 0; i < count; i++) {
            server.append(projectId, LogSource.BUILD, prefix + i);
        }
    }

    @Test
    void accept_event_stream_replays_the_last_100_then_follows() {
        String id = server.createProject("tail-accept");
        write(id, "old ", 120);

        try (SseTestClient client = tail("tail-accept", "", "Accept", "text/event-stream")) {
            await().until(() -> client.logEvents().size() == 100);
            write(id, "new ", 3);

            await().until(() -> client.logEvents().size() == 103);
            assertThat(client.status).isEqualTo(200);
            assertThat(client.contentType).startsWith("text/event-stream");
            assertThat(client.messages()).startsWith("old 20").endsWith("new 0", "new 1", "new 2");
            assertThat(client.ids()).isSorted().doesNotHaveDuplicates();
            assertThat(client.logEvents().get(0).entryId())
                    .isEqualTo(client.logEvents().get(0).json().get("id").asLong());
        }
    }

    @Test
    void tail_true_streams_without_an_accept_header_and_honours_limit_and_source() {
        String id = server.createProject("tail-param");
        write(id, "build ", 10);
        server.append(id, LogSource.RELEASE, "release 0");

        try (SseTestClient client = tail("tail-param", "?tail=true&limit=3&source=build")) {
            await().until(() -> client.logEvents().size() == 3);
            server.append(id, LogSource.RELEASE, "release 1");
            server.append(id, LogSource.BUILD, "build live");

            await().until(() -> client.logEvents().size() == 4);
            assertThat(client.messages()).containsExactly("build 7", "build 8", "build 9", "build live");
        }
    }

    @Test
    void since_replays_from_that_time() {
        String id = server.createProject("tail-since");
        write(id, "line ", 5);
        List<Long> ids = server.ids(id);
        for (int i = 0; i < 4; i++) {
            server.backdate(ids.get(i), Duration.ofHours(2));
        }

        try (SseTestClient client = tail("tail-since", "?tail=true&since=1h")) {
            await().until(() -> client.logEvents().size() == 2);
            assertThat(client.messages()).containsExactly("line 3", "line 4");
        }
    }

    @Test
    void until_with_a_tail_and_a_bad_last_event_id_are_400() {
        server.createProject("tail-bad");

        assertThat(server.get("/agent_projects/tail-bad/logs?tail=true&until=1h", server.adminKey).statusCode())
                .isEqualTo(400);
        assertThat(server.get("/agent_projects/tail-bad/logs?tail=true", server.adminKey, "Last-Event-ID", "abc")
                .statusCode()).isEqualTo(400);
        assertThat(server.get("/agent_projects/tail-bad/logs?tail=maybe", server.adminKey).statusCode())
                .isEqualTo(400);
    }

    @Test
    void entries_written_during_the_replay_are_neither_lost_nor_repeated() throws Exception {
        String id = server.createProject("tail-seam");
        write(id, "before ", 3000);
        long replayAfter = server.ids(id).get(server.ids(id).size() - 2000);
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            for (int i = 0; writing.get(); i++) {
                server.append(id, LogSource.BUILD, "during " + i);
            }
        });
        writer.start();
        try (SseTestClient client = tail("tail-seam", "?tail=true", "Last-Event-ID", Long.toString(replayAfter))) {
            await().until(() -> client.logEvents().size() > 2100);
            writing.set(false);
            writer.join();
            write(id, "after ", 5);

            List<Long> expected = SseTestClient.range(server.ids(id), replayAfter);
            await().until(() -> client.logEvents().size() >= expected.size());
            assertThat(client.ids()).isEqualTo(expected);
        } finally {
            writing.set(false);
            writer.join();
        }
    }

    @Test
    void last_event_id_resumes_with_every_later_entry_exactly_once() {
        String id = server.createProject("tail-resume");
        write(id, "a", 10);
        long resumeAt;
        try (SseTestClient first = tail("tail-resume", "?tail=true")) {
            await().until(() -> first.logEvents().size() == 11);
            resumeAt = first.logEvents().get(6).entryId();
        }
        write(id, "b", 10);

        try (SseTestClient second = tail("tail-resume", "?tail=true&limit=1", "Last-Event-ID", Long.toString(resumeAt))) {
            List<Long> expected = SseTestClient.range(server.ids(id), resumeAt);
            await().until(() -> second.logEvents().size() >= expected.size());
            write(id, "c", 2);

            await().until(() -> second.logEvents().size() == expected.size() + 2);
            assertThat(second.ids()).startsWith(expected.toArray(Long[]::new)).doesNotHaveDuplicates().isSorted();
            assertThat(second.messages()).endsWith("b9", "c0", "c1");
        }
    }

    @Test
    void an_idle_stream_gets_heartbeat_comments() {
        server.createProject("tail-idle");

        try (SseTestClient client = tail("tail-idle", "?tail=true&source=session")) {
            await().atMost(Duration.ofSeconds(5)).until(() -> client.comments.get() >= 3);
            assertThat(client.logEvents()).isEmpty();
            assertThat(client.ended).isFalse();
        }
    }

    @Test
    void a_client_that_stops_reading_is_cut_off_while_a_fast_one_keeps_receiving() throws Exception {
        String id = server.createProject("tail-slow");
        String line = "y".repeat(4000);
        try (Socket slow = new Socket(); SseTestClient fast = tail("tail-slow", "?tail=true&source=build")) {
            slow.setReceiveBufferSize(4096);
            slow.connect(new InetSocketAddress("127.0.0.1", server.port()));
            OutputStream out = slow.getOutputStream();
            out.write(("GET /agent_projects/tail-slow/logs?tail=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + server.adminKey + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            await().until(() -> fast.status == 200);
            // The project had no entries: once both clients have the first one, both follow it live.
            write(id, "first ", 1);
            assertThat(readUntil(slow, "first 0")).as("the slow client's first entry").isTrue();
            await().until(() -> fast.logEvents().size() == 1);

            // From here the slow client reads nothing. 12 MB is far more than what loopback's socket
            // buffers (4 MiB at most here) and the server's 256 KiB budget hold together.
            int lines = 3000;
            write(id, line, lines);

            assertThat(readsToTheEnd(slow)).as("slow client disconnected").isTrue();
            await().atMost(Duration.ofSeconds(30)).until(() -> fast.logEvents().size() == 1 + lines);
            write(id, "still here ", 1);
            await().until(() -> fast.logEvents().size() == 2 + lines);
            assertThat(fast.ended).isFalse();
        }
    }

    /** Reads until {@code text} has arrived (true), or 10 s have passed (false). */
    private static boolean readUntil(Socket socket, String text) throws IOException {
        socket.setSoTimeout(10_000);
        InputStream in = socket.getInputStream();
        StringBuilder seen = new StringBuilder();
        byte[] buffer = new byte[4096];
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!seen.toString().contains(text) && System.nanoTime() < deadline) {
            int n = in.read(buffer);
            if (n < 0) {
                return false;
            }
            seen.append(new String(buffer, 0, n, StandardCharsets.US_ASCII));
        }
        return seen.toString().contains(text);
    }

    /**
     * Reads what the server sent until it closed the connection (true), or until nothing more
     * came for 10 s while the connection stayed open (false): a stream that was never cut off.
     */
    private static boolean readsToTheEnd(Socket socket) throws IOException {
        socket.setSoTimeout(10_000);
        InputStream in = socket.getInputStream();
        byte[] sink = new byte[65536];
        try {
            while (in.read(sink) >= 0) {
                // what was in flight when the server cut the client off
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    @Test
    void deleting_the_project_ends_its_tails() {
        server.createProject("tail-deleted");

        try (SseTestClient client = tail("tail-deleted", "?tail=true")) {
            await().until(() -> client.logEvents().size() == 1);
            assertThat(LogsHarness.send(java.net.http.HttpRequest.newBuilder(server.uri("/agent_projects/tail-deleted"))
                    .header("Authorization", "Bearer " + server.adminKey).DELETE()).statusCode()).isEqualTo(204);

            await().until(() -> client.ended.get());
        }
    }

    @Test
    void without_a_key_a_tail_is_401_and_the_stream_never_starts() {
        server.createProject("tail-auth");

        try (SseTestClient client = SseTestClient.open(server.port(), "/agent_projects/tail-auth/logs", null,
                "Accept", "text/event-stream")) {
            await().until(() -> client.status != 0);
            assertThat(client.status).isEqualTo(401);
        }
    }

    @Test
    void followers_of_one_project_share_its_feed() {
        String id = server.createProject("tail-shared");
        SseTestClient[] clients = new SseTestClient[20];
        try {
            for (int i = 0; i < clients.length; i++) {
                clients[i] = tail("tail-shared", "?tail=true&source=build");
            }
            for (SseTestClient client : clients) {
                await().until(() -> client.status == 200);
            }
            write(id, "shared ", 30);
            for (SseTestClient client : clients) {
                await().until(() -> client.logEvents().size() == 30);
                assertThat(client.ids()).isEqualTo(SseTestClient.range(server.ids(id), server.ids(id).get(0)));
            }
        } finally {
            for (SseTestClient client : clients) {
                if (client != null) {
                    client.close();
                }
            }
        }
    }
}
