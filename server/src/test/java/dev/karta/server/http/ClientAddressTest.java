package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Which address a request comes from, behind trusted load balancers and without. */
class ClientAddressTest {
    private final ClientAddress balancers = new ClientAddress(List.of("10.0.0.0/8", "192.0.2.7", "::1"));

    @Test
    void without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        assertThat(ClientAddress.PEER.of("10.1.2.3", "203.0.113.9")).isEqualTo("10.1.2.3");
    }

    @Test
    void from_a_trusted_balancer_the_client_is_the_rightmost_untrusted_hop() {
        assertThat(balancers.of("10.1.2.3", "203.0.113.9")).isEqualTo("203.0.113.9");
        assertThat(balancers.of("192.0.2.7", " 198.51.100.4 , 203.0.113.9, 10.9.9.9")).isEqualTo("203.0.113.9");
        assertThat(balancers.of("0:0:0:0:0:0:0:1", "2001:db8::5")).isEqualTo("2001:db8:0:0:0:0:0:5");
        assertThat(balancers.of("[::1]", "203.0.113.9")).isEqualTo("203.0.113.9");
    }

    @Test
    void what_a_client_writes_left_of_the_balancers_entry_is_never_believed() {
        // The client sent "X-Forwarded-For: 10.0.0.1" to look like a balancer; the balancer appended its peer.
        assertThat(balancers.of("10.1.2.3", "10.0.0.1, 203.0.113.9")).isEqualTo("203.0.113.9");
    }

    @Test
    void a_header_from_a_peer_that_is_not_trusted_is_ignored() {
        assertThat(balancers.of("198.51.100.4", "203.0.113.9")).isEqualTo("198.51.100.4");
        assertThat(balancers.of("11.0.0.1", "203.0.113.9")).as("outside 10.0.0.0/8").isEqualTo("11.0.0.1");
    }

    @Test
    void a_chain_of_anything_but_addresses_or_only_of_balancers_leaves_the_peer() {
        assertThat(balancers.of("10.1.2.3", "example.com")).isEqualTo("10.1.2.3");
        assertThat(balancers.of("10.1.2.3", "203.0.113.9, unknown")).isEqualTo("10.1.2.3");
        assertThat(balancers.of("10.1.2.3", "10.0.0.1, 10.0.0.2")).isEqualTo("10.1.2.3");
        assertThat(balancers.of("10.1.2.3", "")).isEqualTo("10.1.2.3");
        assertThat(balancers.of("10.1.2.3", null)).isEqualTo("10.1.2.3");
    }

    @Test
    void a_bad_proxy_is_refused_naming_it() {
        assertThatThrownBy(() -> new ClientAddress(List.of("balancer.internal")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'balancer.internal'");
        assertThatThrownBy(() -> new ClientAddress(List.of("10.0.0.0/33")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("between 0 and 32");
        assertThatThrownBy(() -> new ClientAddress(List.of("10.0.0.0/x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'10.0.0.0/x'");
    }
}
