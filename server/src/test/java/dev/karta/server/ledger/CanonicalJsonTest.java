package dev.karta.server.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The canonical JSON is byte for byte what Python's {@code json.dumps(sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False)} writes, checked against a real python3.
 */
class CanonicalJsonTest {
    private static final String PYTHON = """
            import json, sys
            obj = json.loads(sys.stdin.buffer.read().decode("utf-8"))
            sys.stdout.buffer.write(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            """;

    @Test
    void matches_python_for_escapes_control_characters_unicode_integers_and_nulls() throws Exception {
        Map<String, Object> tricky = new LinkedHashMap<>();
        tricky.put("quote", "say \"hi\"");
        tricky.put("backslash", "C:\\path\\");
        tricky.put("short_escapes", "\b\f\n\r\t");
        tricky.put("controls", "\u0000\u0001\u001b\u001f");
        tricky.put("not_escaped", "\u007f / <>&'");
        tricky.put("unicode", "é ü ß 中文 😀 \u2028\u2029 \uFEFF");
        tricky.put("empty", "");
        tricky.put("none", null);
        tricky.put("zero", 0L);
        tricky.put("negative", -42L);
        tricky.put("big", Long.MAX_VALUE);
        tricky.put("int", 7);
        Map<String, Object> order = new LinkedHashMap<>();
        order.put("b", "1");
        order.put("a", "2");
        order.put("_", "3");
        order.put("Z", "4");
        order.put("a_b", "5");
        order.put("ab", "6");
        order.put("é", "7");
        order.put("😀", "8");
        order.put("\uFB01", "9"); // sorts after U+1F600 in Java's UTF-16 order, before it by code point
        Map<String, Object> entry = Ledger.entry(Ledger.RELEASE, releaseFields(), Ledger.GENESIS);

        for (Map<String, Object> object : List.of(tricky, order, entry, Map.<String, Object>of())) {
            assertThat(new String(CanonicalJson.bytes(object), "UTF-8")).isEqualTo(python(object));
        }
    }

    @Test
    void refuses_values_that_are_not_strings_integers_or_null() {
        assertThatThrownBy(() -> CanonicalJson.write(Map.of("x", 1.5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'x'");
        assertThatThrownBy(() -> CanonicalJson.write(Map.of("x", true)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void an_entry_must_have_exactly_the_listed_fields() {
        Map<String, Object> fields = releaseFields();
        fields.remove("trigger");
        assertThatThrownBy(() -> Ledger.entry(Ledger.RELEASE, fields, Ledger.GENESIS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("trigger");
    }

    @Test
    void times_have_exactly_three_fraction_digits_in_utc() {
        assertThat(Ledger.time(0)).isEqualTo("1970-01-01T00:00:00.000Z");
        assertThat(Ledger.time(1_780_000_000_123L)).isEqualTo("2026-05-28T20:26:40.123Z");
    }

    private static Map<String, Object> releaseFields() {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (String name : Ledger.RELEASE_FIELDS) {
            fields.put(name, name + " value");
        }
        fields.put("number", 3L);
        fields.put("idempotency_key", null);
        return fields;
    }

    /** What python3 writes for {@code object}, handed to it as (Jackson's) JSON on standard input. */
    private static String python(Map<String, Object> object) throws IOException, InterruptedException {
        Process python = new ProcessBuilder("python3", "-c", PYTHON).redirectErrorStream(true).start();
        try (OutputStream in = python.getOutputStream()) {
            in.write(new ObjectMapper().writeValueAsBytes(object));
        }
        byte[] out;
        try (InputStream stdout = python.getInputStream()) {
            out = stdout.readAllBytes();
        }
        assertThat(python.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String text = new String(out, "UTF-8");
        assertThat(python.exitValue()).as(text).isZero();
        return text;
    }
}
