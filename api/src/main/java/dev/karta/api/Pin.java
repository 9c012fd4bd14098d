package dev.karta.api;

import java.time.Instant;

/**
 * A project's pin: after a rollback the project stays on {@code version} (its active release)
 * until an admin activates a release or unpins; deploys still build releases meanwhile, which do
 * not go live. {@code by} is the id of the key that pinned (null when none is known).
 */
public record Pin(String version, String by, Instant at) {
}
