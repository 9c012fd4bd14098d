package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server that cannot start closes everything it had already made: no thread of it lives on. */
class FailedStartTest {
    @TempDir
    Path dir;

    private static Set<Thread> liveThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).collect(Collectors.toSet());
    }

    /** Threads the JDK and the test tools start on first use, and keep for a while: not the server's. */
    private static final Set<String> SHARED = Set.of("process reaper", "awaitility-thread");

    private static List<String> newThreads(Set<Thread> before) {
        return liveThreads().stream().filter(t -> !before.contains(t)).map(Thread::getName)
                .filter(name -> !SHARED.contains(name)).sorted().toList();
    }

    @Test
    void a_start_on_a_taken_port_fails_and_leaves_no_thread_behind() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            Config config = TestServer.config(dir, TestServer.randomKey()).toBuilder()
                    .port(taken.getLocalPort()).build();
            Set<Thread> before = liveThreads();

            assertThatThrownBy(() -> KartaServer.start(config)).isInstanceOf(RuntimeException.class);

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(newThreads(before))
                    .as("threads started by the failed start").isEmpty());
        }
    }
}
