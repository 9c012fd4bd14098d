package dev.karta.server.sessions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A fake {@code claude} for the workspace tests: it keeps its conversation as a transcript under
 * {@code $HOME/.claude/projects/<working dir>/<session id>.jsonl}, as Claude Code does, refuses a
 * {@code --resume} of a conversation it has no transcript of ("No conversation found with session
 * ID: …", exit 1), and runs the commands of its message, separated by {@code ;}, in its working
 * directory (or its HOME), answering their results joined by {@code " | "}:
 *
 * <pre>
 * write PATH TEXT    write a file (folders made)      delete PATH      remove a file
 * chmod PATH OCTAL   change a file's mode             read PATH        its content, or "missing"
 * big PATH BYTES     a file of random bytes           home / xdg       $HOME / $XDG_CONFIG_HOME
 * homewrite PATH TEXT, homebig PATH BYTES, homefifo PATH, homelink PATH TARGET: the same in HOME
 * turns              entries in the transcript (this turn included)
 * conversation       the conversation id
 * </pre>
 */
final class WorkspaceHarness {
    private static final String SCRIPT = """
            import json, os, sys, uuid
            def out(o):
                print(json.dumps(o), flush=True)
            args, opts, positional, i = sys.argv[1:], {}, [], 0
            while i < len(args):
                a = args[i]
                if a == '--':
                    positional += args[i + 1:]
                    break
                if a in ('--output-format', '--resume'):
                    opts[a] = args[i + 1]
                    i += 2
                    continue
                if a.startswith('-'):
                    opts[a] = True
                else:
                    positional.append(a)
                i += 1
            text = positional[0] if positional else sys.stdin.read()
            home = os.environ['HOME']
            folder = os.path.join(home, '.claude', 'projects', os.getcwd().replace('/', '-'))
            sid = opts.get('--resume')
            if sid and not os.path.exists(os.path.join(folder, sid + '.jsonl')):
                print('No conversation found with session ID: ' + sid, file=sys.stderr, flush=True)
                sys.exit(1)
            sid = sid or str(uuid.uuid4())
            os.makedirs(folder, exist_ok=True)
            transcript = os.path.join(folder, sid + '.jsonl')
            with open(transcript, 'a') as f:
                f.write(json.dumps({'type': 'user', 'text': text}) + '\\n')
            out({'type': 'system', 'subtype': 'init', 'session_id': sid})
            def place(base, path):
                full = os.path.join(base, path)
                os.makedirs(os.path.dirname(full) or '.', exist_ok=True)
                return full
            answers = []
            for command in [c.strip() for c in text.split(';') if c.strip()]:
                op, _, rest = command.partition(' ')
                path, _, arg = rest.partition(' ')
                if op in ('write', 'homewrite'):
                    with open(place('.' if op == 'write' else home, path), 'w') as f:
                        f.write(arg)
                    answers.append('ok')
                elif op in ('big', 'homebig'):
                    with open(place('.' if op == 'big' else home, path), 'wb') as f:
                        f.write(os.urandom(int(arg)))
                    answers.append('ok')
                elif op == 'homefifo':
                    os.mkfifo(place(home, path))
                    answers.append('ok')
                elif op == 'homelink':
                    os.symlink(arg, place(home, path))
                    answers.append('ok')
                elif op == 'delete':
                    os.remove(path)
                    answers.append('ok')
                elif op == 'chmod':
                    os.chmod(path, int(arg, 8))
                    answers.append('ok')
                elif op == 'read':
                    answers.append(open(path).read() if os.path.exists(path) else 'missing')
                elif op == 'home':
                    answers.append(home)
                elif op == 'xdg':
                    answers.append(os.environ.get('XDG_CONFIG_HOME', 'unset'))
                elif op == 'turns':
                    answers.append(str(len(open(transcript).readlines())))
                elif op == 'conversation':
                    answers.append(sid)
                else:
                    answers.append('unknown ' + op)
            answer = ' | '.join(answers)
            out({'type': 'assistant', 'message': {'content': [{'type': 'text', 'text': answer}]}})
            out({'type': 'result', 'subtype': 'success', 'is_error': False, 'result': answer, 'session_id': sid})
            """;

    private WorkspaceHarness() {
    }

    /** Writes the fake as {@code bin/claude} and returns its path. */
    static Path claude(Path bin) {
        try {
            Files.createDirectories(bin);
            Path file = bin.resolve("claude");
            Files.writeString(file, "#!/usr/bin/python3 -S\n" + SCRIPT);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
