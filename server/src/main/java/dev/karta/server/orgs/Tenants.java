package dev.karta.server.orgs;

import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Scope;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.Optional;
import java.util.regex.Pattern;

/** Creates orgs together with their first admin key. */
public final class Tenants {
    public static final String DEFAULT_ORG = "default";
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{1,38}[a-z0-9]");

    private final Database db;
    private final ApiKeys keys;
    private final AuditLog audit;

    public Tenants(Database db, ApiKeys keys, AuditLog audit) {
        this.db = db;
        this.keys = keys;
        this.audit = audit;
    }

    /** An org and the secret of its first admin key. */
    public record NewOrg(String id, String name, String adminKeyId, String adminSecret) {
    }

    /**
     * Creates org {@code default} and its admin key when the server has no org yet, using
     * {@code presetSecret} when given. Empty when there was something already; several replicas
     * racing here create exactly one org (the name is unique).
     */
    public Optional<NewOrg> bootstrap(String presetSecret) {
        boolean empty = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM orgs").mapTo(Long.class).one()) == 0;
        if (!empty) {
            return Optional.empty();
        }
        try {
            return Optional.of(create(DEFAULT_ORG, presetSecret));
        } catch (ApiError e) {
            return Optional.empty();
        }
    }

    /** Creates an org with an admin key named "admin"; a taken name is a conflict. */
    public NewOrg create(String name, String presetSecret) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiError.badRequest("invalid org name '" + name + "': use 3-40 characters of a-z, 0-9 and '-', "
                    + "starting with a letter");
        }
        try {
            return db.inTransaction(h -> {
                String id = Ids.next("org");
                h.createUpdate("INSERT INTO orgs (id, name, created_at) VALUES (:id, :name, :at)")
                        .bind("id", id)
                        .bind("name", name)
                        .bind("at", Instant.now().toEpochMilli())
                        .execute();
                ApiKeys.Minted admin = keys.mint(h, id, "admin", Scope.ADMIN, presetSecret);
                Actor operator = new Actor(id, null, null, "local");
                audit.append(h, operator, "org.create", "org:" + name);
                audit.append(h, operator, "api_key.create", "api_key:" + admin.key().id());
                return new NewOrg(id, name, admin.key().id(), admin.secret());
            });
        } catch (RuntimeException e) {
            if (Database.isUniqueViolation(e)) {
                throw ApiError.conflict("org '" + name + "' already exists (or the preset key is already in use)");
            }
            throw e;
        }
    }
}
