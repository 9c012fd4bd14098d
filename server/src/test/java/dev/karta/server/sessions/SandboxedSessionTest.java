package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.build.Materializer;
import dev.karta.server.process.Sandbox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Turns run in the sandbox through the whole server: a hostile harness tries to reach what other
 * tenants own and the server itself, and fails at every attempt.
 */
class SandboxedSessionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A Claude Code stand-in that attacks instead of answering: it reports, as its reply (JSON),
     * what each attempt got, and leaves a detached child behind.
     */
    private static final String HOSTILE = """
            import json, os, subprocess, sys
            DATA = %s
            MARKER = %s
            def attempt(f):
                try:
                    return 'ok: ' + str(f())[:200]
                except Exception as e:
                    return 'refused: ' + type(e).__name__
            def write_outside():
                with open(os.path.join(DATA, 'planted'), 'w') as f:
                    f.write('x')
            report = {
                'sqlite': attempt(lambda: open(os.path.join(DATA, 'karta.db'), 'rb').read(16)),
                'secrets': attempt(lambda: open(os.path.join(DATA, 'secrets.key'), 'rb').read(16)),
                'trees': attempt(lambda: os.listdir(os.path.join(DATA, 'trees'))),
                'data_dir': attempt(lambda: os.listdir(DATA)),
                'write_outside': attempt(write_outside),
                'environ_of_1': attempt(lambda: open('/proc/1/environ').read()),
                'server_pids': attempt(lambda: [p for p in os.listdir('/proc') if p.isdigit()]),
                'workspace': attempt(lambda: open('answer.txt').read().strip()),
            }
            subprocess.Popen([sys.executable, '-S', '-c', 'import os, time; os.setsid(); time.sleep(300)', MARKER],
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            text = json.dumps(report)
            print(json.dumps({'type': 'system', 'subtype': 'init', 'session_id': 'c-1'}), flush=True)
            print(json.dumps({'type': 'assistant', 'message': {'content': [{'type': 'text', 'text': text}]}}), flush=True)
            print(json.dumps({'type': 'result', 'subtype': 'success', 'is_error': False, 'result': text,
                              'session_id': 'c-1'}), flush=True)
            """;

    @TempDir
    Path dir;
    private SessionFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.server.close();
        }
    }

    @Test
    void a_hostile_harness_reaches_nothing_but_its_workspace_and_leaves_no_child() throws Exception {
        String marker = "karta-hostile-child-" + UUID.randomUUID();
        Path data = dir.resolve("data");
        Path hostile = Files.createDirectories(dir.resolve("hostile")).resolve("claude");
        Files.writeString(hostile, "#!/usr/bin/python3 -S\n" + HOSTILE.formatted(JSON.writeValueAsString(
                data.toString()), JSON.writeValueAsString(marker)));
        Files.setPosixFilePermissions(hostile, PosixFilePermissions.fromString("rwxr-xr-x"));
        f = SessionFixture.start(dir, s -> SessionFixture.with(s, hostile.toString(), s.idleTimeout(), s.turnTimeout(),
                s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0, Sandbox.Settings.DEFAULTS);
        assumeTrue("bwrap".equals(f.server.get("/healthz", null).json().get("sandbox").asText()),
                "bubblewrap is installed (CI installs it)");
        f.server.post("/agent_projects", f.admin, "{\"name\":\"other\"}");
        f.publish("other", SessionFixture.claudeApp("another tenant's file"));
        String otherTree = f.server.get("/agent_projects/other/releases/v1", f.reader).json().get("content_digest")
                .asText().substring("sha256:".length());
        String p = "victim";
        f.server.post("/agent_projects", f.admin, "{\"name\":\"" + p + "\"}");
        f.publish(p, SessionFixture.claudeApp("the app's own file"));

        JsonNode report = JSON.readTree(f.ask(p, f.open(p), "attack"));

        assertThat(report.get("workspace").asText()).isEqualTo("ok: the app's own file");
        for (String attempt : new String[] {"sqlite", "secrets", "trees", "data_dir"}) {
            assertThat(report.get(attempt).asText()).as(attempt).startsWith("refused");
        }
        assertThat(report.toString()).doesNotContain(otherTree);
        assertThat(report.get("environ_of_1").asText()).as("pid 1 is the sandbox's own")
                .doesNotContain("KARTA", "jdbc");
        assertThat(report.get("server_pids").asText()).as("only the sandbox's processes")
                .doesNotContain("'" + ProcessHandle.current().pid() + "'");
        assertThat(data.resolve("planted")).as("at most in the sandbox's own /tmp: " + report.get("write_outside"))
                .doesNotExist();
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine().orElse("").contains(marker)))
                .as("the detached child died with the turn").isEmpty();
    }

    /**
     * In the sandbox, through the whole server: writes, deletes and mode changes stay in the
     * session's workspace, the next turn sees them, another session does not, and the release
     * tree does not change by a byte.
     */
    @Test
    void sandboxed_turns_write_their_own_workspace_and_never_the_release_tree() throws Exception {
        Path claude = WorkspaceHarness.claude(dir.resolve("workspace-bin"));
        f = SessionFixture.start(dir, s -> SessionFixture.with(s, claude.toString(), s.idleTimeout(), s.turnTimeout(),
                s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0, Sandbox.Settings.DEFAULTS);
        assumeTrue("bwrap".equals(f.server.get("/healthz", null).json().get("sandbox").asText()),
                "bubblewrap is installed (CI installs it)");
        f.server.post("/agent_projects", f.admin, "{\"name\":\"layered\"}");
        f.publish("layered", SessionFixture.claudeApp("from the release"));
        String digest = f.server.get("/agent_projects/layered/releases/v1", f.reader).json().get("content_digest")
                .asText();
        Path tree = Materializer.treeFolder(dir.resolve("data/trees"), digest);
        String before = WorkspaceTest.snapshot(tree);
        String a = f.open("layered");
        String b = f.open("layered");

        assertThat(f.ask("layered", a, "write new.txt hello; delete answer.txt; chmod CLAUDE.md 600"))
                .isEqualTo("ok | ok | ok");
        assertThat(f.ask("layered", a, "read new.txt; read answer.txt")).isEqualTo("hello | missing");
        assertThat(f.ask("layered", b, "read new.txt; read answer.txt")).isEqualTo("missing | from the release\n");
        assertThat(WorkspaceTest.snapshot(tree)).isEqualTo(before);
    }

    @Test
    void healthz_says_which_sandbox_network_and_storage_are_in_force() {
        f = SessionFixture.start(dir, s -> s, 0, SessionFixture.UNSANDBOXED);
        assertThat(f.server.get("/healthz", null).json().toString())
                .isEqualTo("{\"status\":\"ok\",\"sandbox\":\"none\",\"harness_network\":\"host\",\"storage\":\"local\"}");
        f.close();
        f = SessionFixture.start(dir.resolve("again"), s -> s, 0, Sandbox.Settings.DEFAULTS);
        JsonNode health = f.server.get("/healthz", null).json();
        assumeTrue("bwrap".equals(health.get("sandbox").asText()), "bubblewrap is installed (CI installs it)");
        assertThat(health.get("harness_network").asText()).as("slirp4netns is installed (CI installs it)")
                .isEqualTo("outbound");
    }
}
