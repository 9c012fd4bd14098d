package dev.karta.server.datadir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.workspaces.WorkspaceFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The workspace file layer on its own: copies never follow links, saved HOMEs keep links and
 * leave out what cannot be kept, and a restore never writes outside the HOME or through a link.
 */
class DataDirWorkspacesTest {
    private static final String SESSION = "sess_test";

    @TempDir
    Path dir;
    DataDirWorkspaces workspaces;

    @BeforeEach
    void create() {
        workspaces = new DataDirWorkspaces(dir.resolve("workspaces"));
    }

    @Test
    void copy_keeps_links_as_links_and_modes_and_never_follows_a_link_out() throws IOException {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("secret"), "server data");
        Path tree = Files.createDirectories(dir.resolve("tree/sub"));
        Files.writeString(tree.resolve("tool.sh"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(tree.resolve("tool.sh"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.createSymbolicLink(tree.resolve("out"), outside);
        Files.setPosixFilePermissions(tree, PosixFilePermissions.fromString("r-xr-xr-x"));

        workspaces.copy(dir.resolve("tree"), SESSION);

        Path files = workspaces.layout(SESSION).files();
        assertThat(workspaces.ready(SESSION, false)).isTrue();
        assertThat(Files.readSymbolicLink(files.resolve("sub/out"))).isEqualTo(outside);
        assertThat(Files.isSymbolicLink(files.resolve("sub/out"))).isTrue();
        assertThat(Files.isDirectory(files.resolve("sub/out"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(files.resolve("sub/tool.sh"))))
                .isEqualTo("rwxr-x---");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(files.resolve("sub"))))
                .isEqualTo("r-xr-xr-x");
        assertThat(workspaces.bytes(SESSION)).as("links are not followed when measuring").isEqualTo(10);

        workspaces.remove(SESSION).finish();
        assertThat(outside.resolve("secret")).as("deleting never follows a link").hasContent("server data");
        assertThat(workspaces.sessions()).isEmpty();
    }

    @Test
    void home_round_trips_with_links_and_modes() throws IOException {
        workspaces.createHome(SESSION);
        Path home = workspaces.layout(SESSION).home();
        Files.writeString(home.resolve(".config/app.json"), "{}");
        Files.setPosixFilePermissions(home.resolve(".config/app.json"), PosixFilePermissions.fromString("rw-------"));
        Files.createSymbolicLink(home.resolve("etc"), Path.of("/etc"));
        Files.writeString(home.resolve(".cache/huge"), "regenerated");

        byte[] archive = workspaces.archiveHome(SESSION, 1 << 20, 1 << 20);
        workspaces.remove(SESSION).finish();
        workspaces.restoreHome(SESSION, archive, 1 << 20);

        assertThat(home.resolve(".config/app.json")).hasContent("{}");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.resolve(".config/app.json"))))
                .isEqualTo("rw-------");
        assertThat(Files.readSymbolicLink(home.resolve("etc"))).isEqualTo(Path.of("/etc"));
        assertThat(home.resolve(".cache")).isEmptyDirectory();
        assertThat(home.resolve(".local/state")).isDirectory();
    }

    @Test
    void a_restored_local_link_never_gets_xdg_folders_made_through_it() throws IOException {
        Path elsewhere = Files.createDirectories(dir.resolve("someone-elses"));
        workspaces.createHome(SESSION);
        Path home = workspaces.layout(SESSION).home();
        deleteTree(home.resolve(".local"));
        Files.createSymbolicLink(home.resolve(".local"), elsewhere);

        byte[] archive = workspaces.archiveHome(SESSION, 1 << 20, 1 << 20);
        workspaces.remove(SESSION).finish();
        workspaces.restoreHome(SESSION, archive, 1 << 20);

        assertThat(Files.readSymbolicLink(home.resolve(".local"))).isEqualTo(elsewhere);
        assertThat(elsewhere).isEmptyDirectory();
        assertThat(home.resolve(".config")).isDirectory();
    }

    private static void deleteTree(Path tree) throws IOException {
        try (java.util.stream.Stream<Path> walk = Files.walk(tree)) {
            for (Path path : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    @Test
    void archive_over_the_compressed_limit_is_too_large() throws IOException {
        workspaces.createHome(SESSION);
        byte[] noise = new byte[200_000];
        new java.util.Random(1).nextBytes(noise);
        Files.write(workspaces.layout(SESSION).home().resolve("noise"), noise);

        assertThatThrownBy(() -> workspaces.archiveHome(SESSION, 100_000, 1 << 30))
                .isInstanceOf(WorkspaceFiles.TooLarge.class);
        assertThatThrownBy(() -> workspaces.archiveHome(SESSION, 1 << 30, 100_000))
                .isInstanceOf(WorkspaceFiles.TooLarge.class);
    }

    @Test
    void restore_refuses_an_entry_climbing_out_of_the_home() {
        byte[] archive = new TarBuilder().file("../escaped", "x").build();

        assertThatThrownBy(() -> workspaces.restoreHome(SESSION, archive, 1 << 20)).hasMessageContaining("../escaped");
        assertThat(dir.resolve("workspaces/escaped")).doesNotExist();
        assertThat(workspaces.hasHome(SESSION)).isFalse();
    }

    @Test
    void restore_refuses_an_entry_written_through_a_link() {
        Path outside = dir.resolve("outside");
        byte[] archive = new TarBuilder().symlink("out", outside.toString()).file("out/planted", "x").build();

        assertThatThrownBy(() -> workspaces.restoreHome(SESSION, archive, 1 << 20))
                .hasMessageContaining("passes through a link");
        assertThat(outside.resolve("planted")).doesNotExist();
    }

    @Test
    void restore_refuses_more_than_the_expanded_limit() {
        byte[] archive = new TarBuilder().file("a", "x".repeat(600)).file("b", "y".repeat(600)).build();

        assertThatThrownBy(() -> workspaces.restoreHome(SESSION, archive, 1000))
                .isInstanceOf(WorkspaceFiles.TooLarge.class);
        assertThat(workspaces.hasHome(SESSION)).isFalse();
    }
}
