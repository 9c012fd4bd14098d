package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

/**
 * The launcher trains its start-up archive with {@link StartUpTraining}; a training run that
 * failed half-way would leave the request path out of the archive without anyone noticing.
 */
class StartUpTrainingTest {
    @Test
    void the_training_run_completes_against_its_own_loopback_server() {
        assertThatCode(() -> StartUpTraining.main(new String[0])).doesNotThrowAnyException();
    }
}
