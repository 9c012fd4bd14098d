package dev.karta.server.testkit;

import java.io.IOException;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.TreeFormatter;

/** Git objects written straight into a repository's object store, without a push. */
public final class GitObjects {
    private static final PersonIdent WHO = new PersonIdent("Karta Test", "test@karta.invalid");

    private GitObjects() {
    }

    /**
     * A commit of one file, {@code path} holding {@code content}, on {@code parent} (or none),
     * written through {@code inserter} and flushed.
     */
    public static ObjectId commit(ObjectInserter inserter, ObjectId parent, String path, byte[] content,
                                  String message) throws IOException {
        ObjectId blob = inserter.insert(Constants.OBJ_BLOB, content);
        TreeFormatter tree = new TreeFormatter();
        tree.append(path, FileMode.REGULAR_FILE, blob);
        CommitBuilder commit = new CommitBuilder();
        commit.setTreeId(inserter.insert(tree));
        if (parent != null) {
            commit.setParentId(parent);
        }
        commit.setAuthor(WHO);
        commit.setCommitter(WHO);
        commit.setMessage(message);
        ObjectId id = inserter.insert(commit);
        inserter.flush();
        return id;
    }
}
