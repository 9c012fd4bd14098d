package dev.karta.server.migration;

import dev.karta.server.datadir.SecretFiles;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import dev.karta.server.store.ServerKeys;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code karta server rotate-secrets-key}: every value sealed with the secrets key (the list
 * {@link #SEALED}) is opened with the current key and sealed with a new one, in one transaction;
 * then the new key file takes the place of the old one, which stays beside it as
 * {@code secrets.key.old}. The new key is written (as {@code secrets.key.new}, mode 0600) before
 * the transaction commits, so no moment exists where the database holds values no file can open;
 * an interrupted rotation is finished, or started over, by running the command again. Keyed
 * digests stay valid: their key is itself a sealed value ({@code server_keys}). Servers must be
 * stopped: a running one holds the old key in memory.
 */
public final class SecretsKeyRotation {
    /** A column of sealed values: table, primary key columns, column. */
    record Sealed(String table, List<String> key, String column) {
    }

    /** Every column that holds values sealed with the secrets key. */
    static final List<Sealed> SEALED = List.of(
            new Sealed("server_keys", List.of("name"), "sealed"),
            new Sealed("repo_bindings", List.of("project_id"), "webhook_secret"),
            new Sealed("repo_bindings", List.of("project_id"), "credentials"),
            new Sealed("idempotency_keys", List.of("org_id", "idem_key"), "body"),
            new Sealed("projects", List.of("id"), "config"),
            new Sealed("releases", List.of("id"), "config"),
            new Sealed("webhook_endpoints", List.of("id"), "secret"));

    private final PrintStream out;

    public SecretsKeyRotation(PrintStream out) {
        this.out = out;
    }

    /** Rotates the key in {@code keyFile} for the database {@code db}; returns how many values were re-sealed. */
    public long rotate(Database db, Path keyFile) throws IOException {
        if (!Files.exists(keyFile)) {
            throw new MigrationFailed("there is no secrets key at " + keyFile + ": nothing to rotate (check "
                    + "--secrets-key-file and --data-dir)");
        }
        Path next = sibling(keyFile, ".new");
        Path old = sibling(keyFile, ".old");
        SecretBox current = SecretFiles.existingSecretBox(keyFile);
        if (Files.exists(next)) {
            SecretBox pending = SecretFiles.existingSecretBox(next);
            if (opensDigestKey(db, pending)) {
                out.println("Finishing an interrupted rotation: the database is already sealed with " + next);
                SecretFiles.replaceKeyFile(keyFile, next, old);
                return 0;
            }
            Files.delete(next); // a rotation that never committed
        }
        ServerKeys.digestKey(db, current); // fails if the key file does not open this database
        String keyText = SecretBox.newKeyText();
        SecretBox replacement = SecretBox.fromKeyText(keyText, next);
        SecretFiles.createKeyFile(next, keyText);
        long resealed = db.inTransaction(h -> {
            long count = 0;
            for (Sealed sealed : SEALED) {
                String keys = String.join(", ", sealed.key());
                List<Map<String, Object>> rows = h.createQuery("SELECT " + keys + ", " + sealed.column() + " AS v FROM "
                        + sealed.table() + " WHERE " + sealed.column() + " IS NOT NULL").mapToMap().list();
                for (Map<String, Object> row : rows) {
                    String value = (String) row.get("v");
                    if (!SecretBox.isSealed(value)) {
                        continue; // plain text of an earlier version: sealed by the next start
                    }
                    var update = h.createUpdate("UPDATE " + sealed.table() + " SET " + sealed.column() + " = :v WHERE "
                            + String.join(" AND ", sealed.key().stream().map(k -> k + " = :" + k).toList()))
                            .bind("v", replacement.seal(current.open(value)));
                    for (String k : sealed.key()) {
                        update.bind(k, row.get(k));
                    }
                    count += update.execute();
                }
            }
            return count;
        });
        SecretFiles.replaceKeyFile(keyFile, next, old);
        return resealed;
    }

    private static boolean opensDigestKey(Database db, SecretBox box) {
        String sealed = db.withHandle(h -> h.select("SELECT sealed FROM server_keys WHERE name = 'digest'")
                .mapTo(String.class).findOne().orElse(null));
        if (sealed == null) {
            return false;
        }
        try {
            box.open(sealed);
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    private static Path sibling(Path file, String suffix) {
        return file.resolveSibling(file.getFileName() + suffix);
    }
}
