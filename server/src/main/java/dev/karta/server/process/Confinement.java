package dev.karta.server.process;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What a sandboxed child may touch: its workspace (read-write, and its working directory) and its
 * HOME, both host paths (under bubblewrap the child sees them at {@link Sandbox#WORKSPACE} and
 * {@link Sandbox#HOME}). With an {@link Overlay}, the workspace is an
 * overlay mounted for the child's life only: the read-only tree below, every write going to the
 * upper directory, which outlives the child and so carries the writes to the next one.
 */
public record Confinement(Path workspace, Path home, Overlay overlay) {

    public Confinement {
        Objects.requireNonNull(workspace, "workspace");
        Objects.requireNonNull(home, "home");
    }

    /** A workspace that is a plain directory of its own (a copy of the tree, or an empty one). */
    public static Confinement directory(Path workspace, Path home) {
        return new Confinement(workspace, home, null);
    }

    /**
     * An overlay: {@code lower} is never written; {@code upper} receives every change;
     * {@code scratch} is the overlay's work directory, on the same file system as {@code upper}.
     */
    public record Overlay(Path lower, Path upper, Path scratch) {
        public Overlay {
            Objects.requireNonNull(lower, "lower");
            Objects.requireNonNull(upper, "upper");
            Objects.requireNonNull(scratch, "scratch");
        }
    }
}
