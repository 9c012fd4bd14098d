package dev.karta.server.repos;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Host names made of hex letters are names, not numeric address forms. */
class EgressHostsTest {
    @ParameterizedTest
    @ValueSource(strings = {"cafe.de", "feed.be", "dead.beef.ac", "cafe1", "abc.0x.io"})
    void a_name_of_hex_letters_is_not_a_numeric_form(String host) {
        String reason = Egress.refusedHost(host);

        assertThat(reason == null ? "" : reason).doesNotContain("numeric address form");
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.1", "0x7f.1", "2130706433", "0x7f000001", "0177.0.0.1", "1.2.3.4."})
    void numeric_forms_other_than_a_dotted_quad_are_refused(String host) {
        assertThat(Egress.refusedHost(host)).contains("numeric address form");
    }
}
