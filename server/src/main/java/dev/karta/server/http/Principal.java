package dev.karta.server.http;

import java.util.Objects;

/** The caller behind a validated key: its org and the key's identity and scope. */
public record Principal(String orgId, String orgName, String keyId, String keyName, Scope scope) {
    public Principal {
        Objects.requireNonNull(orgId, "orgId");
        Objects.requireNonNull(keyId, "keyId");
        Objects.requireNonNull(scope, "scope");
    }
}
