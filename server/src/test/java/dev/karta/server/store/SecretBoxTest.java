package dev.karta.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.datadir.SecretFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretBoxTest {
    @TempDir
    Path dir;

    @Test
    void a_missing_key_file_is_created_with_mode_0600_and_reused_on_the_next_open() throws Exception {
        Path file = dir.resolve("secrets.key");

        String sealed = SecretFiles.secretBox(file).seal("hunter2");

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(SecretFiles.secretBox(file).open(sealed)).isEqualTo("hunter2");
        try (var leftovers = Files.list(dir)) {
            assertThat(leftovers).containsExactly(file);
        }
    }

    @Test
    void sealed_values_are_versioned_use_a_fresh_nonce_and_hide_the_plaintext() {
        SecretBox box = SecretFiles.secretBox(dir.resolve("k"));

        String one = box.seal("same secret");
        String two = box.seal("same secret");

        assertThat(one).startsWith("v1:").doesNotContain("same secret").isNotEqualTo(two);
        assertThat(SecretBox.isSealed(one)).isTrue();
        assertThat(SecretBox.isSealed("3f9c0a")).isFalse();
        assertThat(box.open(two)).isEqualTo("same secret");
    }

    @Test
    void a_value_sealed_with_another_key_or_altered_does_not_open() {
        String sealed = SecretFiles.secretBox(dir.resolve("a")).seal("x");
        SecretBox other = SecretFiles.secretBox(dir.resolve("b"));
        // Flip a character inside the ciphertext: the last ones may only carry base64 padding bits.
        int at = "v1:".length() + 20;
        String altered = sealed.substring(0, at) + (sealed.charAt(at) == 'A' ? 'B' : 'A') + sealed.substring(at + 1);

        assertThatThrownBy(() -> other.open(sealed)).hasMessageContaining("cannot be decrypted");
        assertThatThrownBy(() -> SecretFiles.secretBox(dir.resolve("a")).open(altered))
                .hasMessageContaining("cannot be decrypted");
    }

    @Test
    void a_malformed_key_file_stops_with_a_clear_error_and_is_left_alone() throws Exception {
        Path file = dir.resolve("secrets.key");
        Files.writeString(file, "not a key\n");

        assertThatThrownBy(() -> SecretFiles.secretBox(file)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("secrets key file " + file + " is malformed");
        assertThat(Files.readString(file)).isEqualTo("not a key\n");
    }
}
