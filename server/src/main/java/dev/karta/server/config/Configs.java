package dev.karta.server.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ConfigPatch;
import dev.karta.api.ConfigUpdate;
import dev.karta.api.ProjectConfig;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.releases.ReleaseRecord;
import dev.karta.server.releases.ReleaseStore;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.SealedConfig;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reading and changing a project's config vars, and opening a release's set for a child process.
 * A set is stored as one JSON object (names sorted, so equal sets give equal text and digests),
 * sealed with the {@link SecretBox}; values are decrypted only to answer an admin's
 * {@code ?reveal=true} and to start a harness or builder. A change to a project that serves a
 * release makes release {@code N+1} from the active one with the new set, activated at once, in
 * one transaction with its audit event ({@code config.set}, names only) and log entry.
 */
public final class Configs {
    private static final TypeReference<TreeMap<String, String>> VARS = new TypeReference<>() {
    };

    private final Database db;
    private final ProjectStore projects;
    private final Releases releases;
    private final ReleaseStore releaseStore;
    private final AuditLog audit;
    private final LogStore logs;
    private final SecretBox box;
    private final ObjectMapper json = new ObjectMapper();

    public Configs(Database db, ProjectStore projects, Releases releases, ReleaseStore releaseStore, AuditLog audit,
                   LogStore logs, SecretBox box) {
        this.db = db;
        this.projects = projects;
        this.releases = releases;
        this.releaseStore = releaseStore;
        this.audit = audit;
        this.logs = logs;
        this.box = box;
    }

    /** The project's current config: names only, or with values when {@code reveal}. */
    public ProjectConfig view(String orgId, String projectName, boolean reveal) {
        return db.withHandle(h -> {
            ProjectRecord project = projects.find(h, orgId, projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            SortedMap<String, String> vars = open(ReleaseStore.projectConfig(h, project.id()));
            return new ProjectConfig(project.name(), version(project), reveal ? vars : namesOnly(vars));
        });
    }

    /**
     * Applies {@code patch} (validated whole first) to the project's config. Nothing changes, and no
     * release is made, when every var set already has that value and every var unset is absent.
     * {@code idempotencyKey} (may be null) is the request's, recorded on the release.
     */
    public ConfigUpdate change(Actor actor, String idempotencyKey, String projectName, ConfigPatch patch) {
        validate(patch);
        Changed changed = db.inTransaction(h -> {
            // Under the project's lock: serializes with deploys activating (they snapshot the
            // project's config under it), rollbacks and other config changes.
            ProjectRecord project = projects.locked(h, actor.orgId(), projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            SortedMap<String, String> before = open(ReleaseStore.projectConfig(h, project.id()));
            SortedMap<String, String> after = new TreeMap<>(before);
            List<String> set = new ArrayList<>();
            List<String> unset = new ArrayList<>();
            new TreeMap<>(patch.set()).forEach((name, value) -> {
                if (!value.equals(after.put(name, value))) {
                    set.add(name);
                }
            });
            for (String name : new LinkedHashSet<>(patch.unset())) {
                if (after.remove(name) != null) {
                    unset.add(name);
                }
            }
            ConfigRules.checkCount(after);
            if (set.isEmpty() && unset.isEmpty()) {
                return new Changed(project, after, null, false);
            }
            String summary = summary(set, unset);
            SealedConfig sealed = seal(after);
            ReleaseRecord release = null;
            if (project.currentReleaseId() != null) {
                release = releases.createFromConfig(h, actor, idempotencyKey, project, sealed, summary);
            } else {
                ReleaseStore.setProjectConfig(h, project.id(), sealed);
                logs.append(h, project.id(), LogSource.RELEASE, null, null,
                        summary + " (kept for the first release)");
            }
            audit.append(h, actor, "config.set", "project:" + project.name()
                    + (release == null ? "" : "/" + release.version()) + " " + summary);
            return new Changed(project, after, release, true);
        });
        if (changed.any()) {
            logs.bus().publish(changed.project().id());
        }
        String live = changed.release() != null ? changed.release().version() : version(changed.project());
        return new ConfigUpdate(changed.project().name(), live, namesOnly(changed.vars()),
                changed.release() == null ? null : changed.release().version());
    }

    private record Changed(ProjectRecord project, SortedMap<String, String> vars, ReleaseRecord release, boolean any) {
    }

    /** The config vars release {@code releaseId} runs with, decrypted: for the environment of its harness. */
    public Map<String, String> ofRelease(String releaseId) {
        return Collections.unmodifiableMap(open(releaseStore.releaseConfig(releaseId)));
    }

    /** The project's current config vars, decrypted: for the environment of a build. */
    public Map<String, String> ofProject(String projectId) {
        return Collections.unmodifiableMap(db.withHandle(h -> open(ReleaseStore.projectConfig(h, projectId))));
    }

    /** Checks every rule a patch can be checked against without the stored set. */
    static void validate(ConfigPatch patch) {
        if (patch.set().isEmpty() && patch.unset().isEmpty()) {
            throw ApiError.badRequest("nothing to change: send {\"set\":{\"NAME\":\"value\"}} and/or "
                    + "{\"unset\":[\"NAME\"]}");
        }
        for (String name : new TreeMap<>(patch.set()).keySet()) {
            ConfigRules.checkName(name);
            ConfigRules.checkValue(name, patch.set().get(name));
        }
        Set<String> unset = new LinkedHashSet<>(patch.unset());
        for (String name : unset) {
            ConfigRules.checkName(name);
            if (patch.set().containsKey(name)) {
                throw new ApiError(ApiError.Kind.UNPROCESSABLE, "config_conflict", name
                        + " is both set and unset in one change; send one of the two");
            }
        }
        // Cheap early refusal; the stored set is counted again in the transaction.
        if (patch.set().size() > ConfigRules.MAX_VARS) {
            ConfigRules.checkCount(patch.set());
        }
    }

    /** "Set A, B; unset C": what a change did, by names. */
    static String summary(List<String> set, List<String> unset) {
        List<String> parts = new ArrayList<>();
        if (!set.isEmpty()) {
            parts.add("Set " + String.join(", ", set));
        }
        if (!unset.isEmpty()) {
            parts.add((parts.isEmpty() ? "Unset " : "unset ") + String.join(", ", unset));
        }
        return String.join("; ", parts);
    }

    SealedConfig seal(SortedMap<String, String> vars) {
        if (vars.isEmpty()) {
            return SealedConfig.EMPTY;
        }
        String text = write(vars);
        return new SealedConfig(box.seal(text), box.digest(text));
    }

    SortedMap<String, String> open(SealedConfig config) {
        if (config.isEmpty()) {
            return new TreeMap<>();
        }
        try {
            return json.readValue(box.open(config.sealed()), VARS);
        } catch (JsonProcessingException e) {
            // Never e's message: it may quote the decrypted text.
            throw new IllegalStateException("a stored config cannot be read (digest " + config.digest() + ")");
        }
    }

    private String write(SortedMap<String, String> vars) {
        try {
            return json.writeValueAsString(vars);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("config vars cannot be written as JSON");
        }
    }

    private static SortedMap<String, String> namesOnly(SortedMap<String, String> vars) {
        SortedMap<String, String> names = new TreeMap<>();
        vars.keySet().forEach(name -> names.put(name, null));
        return names;
    }

    private static String version(ProjectRecord project) {
        return project.currentNumber() == null ? null : "v" + project.currentNumber();
    }
}
