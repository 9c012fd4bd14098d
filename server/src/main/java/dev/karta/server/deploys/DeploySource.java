package dev.karta.server.deploys;

import java.util.Locale;

/** The door a deploy came in by. */
public enum DeploySource {
    GIT_PUSH, DEPLOY, WEBHOOK, UPLOAD;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DeploySource parse(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
