package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class OutputTest {
    private static final Instant NOW = Instant.parse("2026-06-10T12:00:00Z");

    @Test
    void json_received_as_is_gets_its_control_characters_as_json_escapes() throws Exception {
        String sent = "{\"message\":\"a\u009b2Jb\u007fc\u001b]52;c;QQ==\u0007\"}";

        String shown = Output.jsonLine(sent);

        assertThat(shown).isEqualTo("{\"message\":\"a\\u009b2Jb\\u007fc\\u001b]52;c;QQ==\\u0007\"}");
        assertThat(dev.karta.api.Json.newMapper().readTree(shown).get("message").asText())
                .isEqualTo("a\u009b2Jb\u007fc\u001b]52;c;QQ==\u0007");
        assertThat(Output.jsonLine("{\"plain\":1}")).isEqualTo("{\"plain\":1}");
    }

    @Test
    void age_reads_like_heroku() {
        assertThat(Output.age(NOW, NOW)).isEqualTo("just now");
        assertThat(Output.age(NOW.minusSeconds(42), NOW)).isEqualTo("42s ago");
        assertThat(Output.age(NOW.minusSeconds(3 * 60 + 5), NOW)).isEqualTo("3m ago");
        assertThat(Output.age(NOW.minusSeconds(2 * 3600 + 59 * 60), NOW)).isEqualTo("2h ago");
        assertThat(Output.age(NOW.minusSeconds(5 * 86400 + 3600), NOW)).isEqualTo("5d ago");
        assertThat(Output.age(null, NOW)).isEqualTo("-");
    }

    @Test
    void relative_times_read_in_words_both_ways() {
        assertThat(Output.relative(NOW.plusSeconds(89 * 86400 + 3600), NOW)).isEqualTo("in 89 days");
        assertThat(Output.relative(NOW.plusSeconds(3600), NOW)).isEqualTo("in 1 hour");
        assertThat(Output.relative(NOW.minusSeconds(3 * 60 + 5), NOW)).isEqualTo("3 minutes ago");
        assertThat(Output.relative(NOW.minusSeconds(1), NOW)).isEqualTo("1 second ago");
        assertThat(Output.relative(NOW, NOW)).isEqualTo("just now");
        assertThat(Output.relative(null, NOW)).isEqualTo("-");
    }

    @Test
    void short_sha_is_seven_characters() {
        assertThat(Output.shortSha("0123456789abcdef")).isEqualTo("0123456");
        assertThat(Output.shortSha(null)).isEqualTo("-");
    }

    @Test
    void bytes_use_decimal_units() {
        assertThat(Output.bytes(999)).isEqualTo("999 B");
        assertThat(Output.bytes(12_345_678)).isEqualTo("12.3 MB");
    }
}
