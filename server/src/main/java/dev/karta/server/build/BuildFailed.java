package dev.karta.server.build;

/** A build that cannot produce a release, with the reason the user sees on the deploy. */
public final class BuildFailed extends RuntimeException {
    public BuildFailed(String reason) {
        super(reason, null, false, false);
    }
}
