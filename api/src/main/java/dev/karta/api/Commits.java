package dev.karta.api;

/** How server and CLI show a commit SHA to people. */
public final class Commits {
    /** The abbreviation git shows by default ({@code core.abbrev}). */
    public static final int SHORT_SHA_LENGTH = 7;

    private Commits() {
    }

    /** The first seven characters of {@code sha}, as git shows it; shorter SHAs as they are. */
    public static String shortSha(String sha) {
        return sha.length() > SHORT_SHA_LENGTH ? sha.substring(0, SHORT_SHA_LENGTH) : sha;
    }
}
