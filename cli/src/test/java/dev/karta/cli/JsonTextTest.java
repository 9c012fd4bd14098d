package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.api.Json;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTextTest {
    @Test
    void reads_every_kind_of_value_keeping_member_order() {
        Object tree = JsonText.parse(" {\"b\":[1,-2.5e1,12345678901234567890,true,false,null],\"a\":{},"
                + "\"s\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\",\"e\":[]} \n");

        assertThat(tree).isInstanceOf(Map.class);
        Map<?, ?> object = (Map<?, ?>) tree;
        assertThat(List.copyOf(object.keySet())).isEqualTo(List.of("b", "a", "s", "e"));
        assertThat(object.get("b")).isEqualTo(Arrays.asList(1L, new BigDecimal("-2.5e1"),
                new BigInteger("12345678901234567890"), true, false, null));
        assertThat(object.get("a")).isEqualTo(Map.of());
        assertThat(object.get("s")).isEqualTo("q\"\\/\b\f\n\r\t\u00e9\ud83d\ude00");
        assertThat(object.get("e")).isEqualTo(List.of());
        assertThat(JsonText.parse("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
        assertThat(JsonText.parse("-9223372036854775808")).isEqualTo(Long.MIN_VALUE);
        assertThat(JsonText.parse("\"plain\"")).isEqualTo("plain");
        assertThat(JsonText.compact(JsonText.parse("[1.50,1e400,-0.0]"))).isEqualTo("[1.50,1E+400,0.0]");
    }

    @Test
    void refuses_text_that_is_not_json_naming_what_and_where() {
        assertThatThrownBy(() -> JsonText.parse("{\"a\":1,}")).isInstanceOf(JsonText.MalformedJson.class)
                .hasMessage("expected a member name in double quotes at offset 7");
        assertThatThrownBy(() -> JsonText.parse("[1 2]")).hasMessage("expected ',' or ']' in an array at offset 3");
        assertThatThrownBy(() -> JsonText.parse("\"open")).hasMessage("unterminated string at offset 5");
        assertThatThrownBy(() -> JsonText.parse("\"a\u0007b\"")).hasMessageStartingWith("control character U+0007");
        assertThatThrownBy(() -> JsonText.parse("{} x")).hasMessage("unexpected text after the value at offset 3");
        assertThatThrownBy(() -> JsonText.parse("01")).hasMessage("unexpected text after the value at offset 1");
        assertThatThrownBy(() -> JsonText.parse("1.")).hasMessageStartingWith("invalid number");
        assertThatThrownBy(() -> JsonText.parse("tru")).hasMessage("unexpected character 't' at offset 0");
        assertThatThrownBy(() -> JsonText.parse("\"\\x\"")).hasMessage("invalid escape \\x at offset 2");
        assertThatThrownBy(() -> JsonText.parse("<html>")).hasMessage("unexpected character '<' at offset 0");
        assertThatThrownBy(() -> JsonText.parse("")).hasMessage("unexpected end of input at offset 0");
        assertThatThrownBy(() -> JsonText.parse("\"\\u12G4\"")).hasMessage("invalid \\u escape at offset 5");
        assertThatThrownBy(() -> JsonText.parse("\"\\u\u0660\u0660\u0664\u0661\"")) // Arabic-Indic digits
                .hasMessage("invalid \\u escape at offset 3");
        assertThatThrownBy(() -> JsonText.parse("[1e2147483648]")).hasMessage("number out of range at offset 1");
    }

    @Test
    void refuses_a_number_longer_than_its_limit_before_converting_it() {
        String longest = "9".repeat(JsonText.MAX_NUMBER_LENGTH);
        assertThat(JsonText.parse(longest)).isEqualTo(new BigInteger(longest));

        String hostile = "[" + "9".repeat(1_000_000) + "]";
        assertThatThrownBy(() -> JsonText.parse(hostile)).isInstanceOf(JsonText.MalformedJson.class)
                .hasMessage("number longer than 1000 characters at offset 1");
    }

    @Test
    void refuses_nesting_deeper_than_its_limit_without_exhausting_the_stack() {
        char[] open = new char[JsonText.MAX_DEPTH];
        Arrays.fill(open, '[');
        char[] close = new char[JsonText.MAX_DEPTH];
        Arrays.fill(close, ']');
        assertThat(JsonText.parse(new String(open) + new String(close))).isInstanceOf(List.class);

        String deeper = "[".repeat(100_000);
        assertThatThrownBy(() -> JsonText.parse(deeper)).isInstanceOf(JsonText.MalformedJson.class)
                .hasMessageStartingWith("nested deeper than 1000 levels");
    }

    @Test
    void pretty_prints_as_jq_does_and_compact_matches_what_the_server_sends() throws Exception {
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("name", "shop");
        tree.put("scopes", List.of("read", "write"));
        tree.put("empty", List.of());
        tree.put("none", Map.of());
        tree.put("key", new LinkedHashMap<>(Map.of("id", 7L)));
        tree.put("gone", null);

        assertThat(JsonText.pretty(tree)).isEqualTo("""
                {
                  "name": "shop",
                  "scopes": [
                    "read",
                    "write"
                  ],
                  "empty": [],
                  "none": {},
                  "key": {
                    "id": 7
                  },
                  "gone": null
                }""");
        String compact = JsonText.compact(tree);
        assertThat(compact).isEqualTo(Json.newMapper().writeValueAsString(tree));
        assertThat(JsonText.parse(compact)).isEqualTo(tree);
    }

    @Test
    void writes_every_control_character_as_an_escape_that_reads_back_the_same() throws Exception {
        String hostile = "a\u001b[2Jb\u007fc\u009b31md\u0007e\nf\"g\\h\u00e9";

        String written = JsonText.compact(Map.of("message", hostile));

        assertThat(written).isEqualTo("{\"message\":\"a\\u001b[2Jb\\u007fc\\u009b31md\\u0007e\\nf\\\"g\\\\h\u00e9\"}");
        assertThat(written.chars().noneMatch(c -> c < 0x20 || c >= 0x7f && c <= 0x9f)).isTrue();
        assertThat(Json.newMapper().readTree(written).get("message").asText()).isEqualTo(hostile);
        assertThat(JsonText.parse(written)).isEqualTo(Map.of("message", hostile));
    }

    @Test
    void writes_a_lone_surrogate_as_an_escape_and_a_pair_as_is() {
        String text = "a\ud800b\udc00c\ud83d\ude00";

        String written = JsonText.compact(List.of(text));

        assertThat(written).isEqualTo("[\"a\\ud800b\\udc00c\ud83d\ude00\"]");
        assertThat(JsonText.parse(written)).isEqualTo(List.of(text));
    }
}
