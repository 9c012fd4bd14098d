package dev.karta.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Terminal control sequences are removed whole; other control characters are dropped (issue 16). */
class PrintableTest {
    @Test
    void plain_text_is_returned_as_is() {
        String plain = "Build started: 3 files, 27 bytes — ✓ é\ttab";
        assertThat(Printable.line(plain)).isSameAs(plain);
        assertThat(Printable.lines(plain)).isSameAs(plain);
    }

    @Test
    void sgr_colours_leave_their_text_behind() {
        assertThat(Printable.line("\u001b[1;31mError:\u001b[0m boom")).isEqualTo("Error: boom");
        assertThat(Printable.line("\u001b[38;5;208morange\u001b[m")).isEqualTo("orange");
    }

    @Test
    void csi_sequences_that_move_the_cursor_or_clear_are_removed() {
        assertThat(Printable.line("a\u001b[2Jb\u001b[1Ac\u001b[2Kd\u001b[?25le")).isEqualTo("abcde");
    }

    @Test
    void the_one_byte_c1_csi_is_removed_with_its_parameters() {
        assertThat(Printable.line("red\u009b31mtext")).isEqualTo("redtext");
    }

    @Test
    void osc_52_clipboard_writes_and_window_titles_are_removed_with_their_payload() {
        assertThat(Printable.line("x\u001b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u0007y")).isEqualTo("xy");
        assertThat(Printable.line("x\u001b]0;owned\u001b\\y")).isEqualTo("xy");
        assertThat(Printable.line("x\u009d0;owned\u009cy")).isEqualTo("xy");
        assertThat(Printable.line("x\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007"))
                .isEqualTo("xlink");
    }

    @Test
    void an_unterminated_control_string_swallows_the_rest_of_the_text() {
        assertThat(Printable.line("safe\u001b]0;never ended")).isEqualTo("safe");
        assertThat(Printable.line("safe\u001bP+q544e")).isEqualTo("safe");
    }

    @Test
    void an_escape_inside_a_control_string_ends_it_and_is_removed_too() {
        assertThat(Printable.line("a\u001b]0;t\u001b[2Jb")).isEqualTo("ab");
    }

    @Test
    void other_escape_sequences_are_removed() {
        assertThat(Printable.line("a\u001b(Bb\u001bcc\u001b7d\u001b")).isEqualTo("abcd");
    }

    @Test
    void bell_backspace_del_and_other_controls_are_dropped_but_tab_is_kept() {
        assertThat(Printable.line("a\u0007b\bc\u007fd\u0000e\tf\u0085g")).isEqualTo("abcde\tfg");
    }

    @Test
    void line_turns_line_breaks_into_spaces_so_text_cannot_fake_a_line() {
        assertThat(Printable.line("x\r\nReleased v999 (fake)\nremote: ok\rdone"))
                .isEqualTo("x Released v999 (fake) remote: ok done");
    }

    @Test
    void lines_keeps_line_breaks_and_folds_crlf() {
        assertThat(Printable.lines("one\r\ntwo\nthree\u001b[31m!\u001b[0m")).isEqualTo("one\ntwo\nthree!");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\u001b[2J\u001b]0;t\u0007x", "a\u009b31mb", "plain", "\u001b]52;c;QQ==\u001b\\z\r\n"})
    void cleaning_clean_text_changes_nothing(String text) {
        String once = Printable.line(text);
        assertThat(Printable.line(once)).isEqualTo(once);
        assertThat(Printable.hasControlCharacters(once)).isFalse();
        assertThat(Printable.hasControlCharacters(Printable.lines(text).replace("\n", ""))).isFalse();
    }

    @Test
    void null_stays_null() {
        assertThat(Printable.line(null)).isNull();
        assertThat(Printable.lines(null)).isNull();
    }
}
