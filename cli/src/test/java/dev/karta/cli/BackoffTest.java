package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {

    @Test
    void pauses_double_after_each_failure_up_to_the_maximum() {
        Backoff backoff = new Backoff(Duration.ofMillis(500), Duration.ofSeconds(3));

        assertThat(backoff.failed()).isEqualTo(Duration.ofMillis(500));
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(1));
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(2));
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(3));
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(3));
        assertThat(backoff.failures()).isEqualTo(5);
    }

    @Test
    void an_attempt_that_got_through_starts_pauses_and_count_over() {
        Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(10));
        backoff.failed();
        backoff.failed();

        backoff.succeeded();

        assertThat(backoff.failures()).isZero();
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(1));
        assertThat(backoff.failures()).isEqualTo(1);
    }
}
