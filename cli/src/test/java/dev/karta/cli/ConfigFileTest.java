package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigFileTest {
    @TempDir
    Path dir;

    private Map<String, String> parse(String text) throws IOException {
        Path file = dir.resolve("config.toml");
        Files.writeString(file, text);
        return new ConfigFile(file).read();
    }

    @Test
    void reads_basic_and_literal_strings_with_comments() throws IOException {
        assertThat(parse("# mine\nserver = \"http://x:1\"  # trailing\napi_key='kt_live_abc'\n\n"))
                .containsExactly(Map.entry("server", "http://x:1"), Map.entry("api_key", "kt_live_abc"));
    }

    @Test
    void reads_escapes_in_basic_strings() throws IOException {
        assertThat(parse("server = \"a\\\"b\\\\c\\u0041\"\n")).containsEntry("server", "a\"b\\cA");
    }

    @Test
    void keys_inside_tables_are_not_ours() throws IOException {
        assertThat(parse("server = \"http://x:1\"\n[profile.other]\napi_key = \"no\"\n"))
                .containsOnlyKeys("server");
    }

    @Test
    void a_line_that_is_not_a_string_value_names_the_line() {
        assertThatThrownBy(() -> parse("server = \"http://x:1\"\napi_key = 42\n"))
                .isInstanceOf(CliError.class).hasMessageContaining("config.toml line 2: expected a quoted string");
    }

    @Test
    void a_missing_file_is_empty() {
        assertThat(new ConfigFile(dir.resolve("none.toml")).read()).isEmpty();
    }

    @Test
    void what_is_written_reads_back() {
        ConfigFile file = new ConfigFile(dir.resolve("karta").resolve("config.toml"));
        Map<String, String> values = new LinkedHashMap<>();
        values.put("server", "http://127.0.0.1:7070");
        values.put("api_key", "we\"ird\\");

        file.write(values);

        assertThat(file.read()).isEqualTo(values);
    }
}
