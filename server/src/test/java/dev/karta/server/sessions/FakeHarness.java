package dev.karta.server.sessions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Fake {@code claude} and {@code opencode} executables: small Python scripts that parse their
 * argv as the real CLIs do, print each harness's JSON-lines format, and misbehave on request.
 * The message text picks the behaviour ({@code mode:arg}); anything else answers the content of
 * {@code answer.txt} in the working directory, which proves which release tree a turn ran in.
 * They record their pid, the prompt they parsed and their waits in a spy directory baked into
 * the script.
 *
 * <pre>
 * garbage       non-JSON lines, exit 0          exit:N   stderr line, exit N
 * error         the harness's own error event   hang     start a child, then sleep forever
 * huge          print JSON lines forever        orphan   leave a child holding stdout, answer, exit
 * wait:NAME     answer once SPY/NAME exists      sleep:S  sleep S seconds, then answer
 * env           answer the environment names     argv     answer the argv
 * parts         several text parts and unknown event types
 * </pre>
 */
final class FakeHarness {
    private static final String COMMON = """
            import json, os, subprocess, sys, time, uuid
            SPY = %s
            # Children carry the spy directory in their argv: in a PID namespace their pids mean
            # nothing outside, so tests find them by this marker (SessionFixture.running).
            CHILD = [sys.executable, '-S', '-c', 'import time; time.sleep(300)', os.path.join(SPY, 'child')]
            def out(o):
                print(json.dumps(o), flush=True)
            def spy(name, value):
                # Not the pid: every harness is pid 1 of its own PID namespace.
                tmp = os.path.join(SPY, '%%s.%%s.tmp' %% (name, uuid.uuid4().hex))
                with open(tmp, 'w') as f:
                    f.write(str(value))
                os.rename(tmp, os.path.join(SPY, name))
            def parse(args, valued):
                opts, positional, i = {}, [], 0
                while i < len(args):
                    a = args[i]
                    if a == '--':
                        positional += args[i + 1:]
                        break
                    if a in valued:
                        opts[a] = args[i + 1]
                        i += 2
                        continue
                    if a.startswith('-'):
                        opts[a] = True
                    else:
                        positional.append(a)
                    i += 1
                return opts, positional
            def behave(text, sid, first_events):
                spy(NAME + '.pid', os.getpid())
                spy(NAME + '.prompt', text)
                answer = open('answer.txt').read().strip() if os.path.exists('answer.txt') else 'no answer.txt'
                mode, _, arg = text.partition(':')
                first_events()
                if mode == 'garbage':
                    print('this is not json', flush=True)
                    print('{broken', flush=True)
                    sys.exit(0)
                if mode == 'exit':
                    print('boom: something broke', file=sys.stderr, flush=True)
                    sys.exit(int(arg))
                if mode == 'hang':
                    child = subprocess.Popen(CHILD)
                    spy('child.pid', child.pid)
                    time.sleep(300)
                if mode == 'huge':
                    line = json.dumps({'type': 'noise', 'data': 'x' * 1000})
                    while True:
                        print(line)
                if mode == 'orphan':
                    child = subprocess.Popen(CHILD)
                    spy('child.pid', child.pid)
                    time.sleep(0.5)
                if mode == 'wait':
                    spy('waiting.' + arg, 1)
                    while not os.path.exists(os.path.join(SPY, arg)):
                        time.sleep(0.02)
                if mode == 'sleep':
                    time.sleep(float(arg))
                if mode == 'env':
                    answer = json.dumps(sorted(os.environ.keys()))
                if mode == 'argv':
                    answer = json.dumps(sys.argv[1:])
                return mode, answer
            """;

    private static final String CLAUDE = """
            NAME = 'claude'
            opts, positional = parse(sys.argv[1:], ('--output-format', '--resume'))
            if opts.get('--output-format') != 'stream-json' or '-p' not in opts or '--verbose' not in opts:
                print('usage: claude -p PROMPT --output-format stream-json --verbose', file=sys.stderr)
                sys.exit(64)
            text = positional[0] if positional else ''
            sid = opts.get('--resume') or 'claude-conv-' + uuid.uuid4().hex[:12]
            mode, answer = behave(text, sid, lambda: out({'type': 'system', 'subtype': 'init', 'session_id': sid}))
            if mode == 'error':
                out({'type': 'result', 'subtype': 'error_during_execution', 'is_error': True,
                     'result': 'model overloaded', 'session_id': sid})
                sys.exit(1)
            if mode == 'parts':
                out({'type': 'assistant', 'message': {'content': [{'type': 'text', 'text': 'first '},
                                                                   {'type': 'tool_use', 'name': 'Read'}]}})
                out({'type': 'user', 'message': {'content': [{'type': 'tool_result'}]}})
                out({'type': 'mystery_event_from_the_future'})
                out({'type': 'assistant', 'message': {'content': [{'type': 'text', 'text': 'second'}]}})
                answer = 'first second'
            else:
                out({'type': 'assistant', 'message': {'content': [{'type': 'text', 'text': answer}]}})
            out({'type': 'result', 'subtype': 'success', 'is_error': False, 'result': answer, 'session_id': sid,
                 'usage': {'input_tokens': 3, 'output_tokens': 5}})
            if mode == 'orphan':
                os._exit(0)
            """;

    private static final String OPENCODE = """
            NAME = 'opencode'
            args = sys.argv[1:]
            opts, positional = parse(args[1:], ('--format', '--session'))
            if not args or args[0] != 'run' or opts.get('--format') != 'json':
                print('usage: opencode run --format json MESSAGE', file=sys.stderr)
                sys.exit(64)
            text = ' '.join(positional)
            sid = opts.get('--session') or 'ses_' + uuid.uuid4().hex[:12]
            mode, answer = behave(text, sid, lambda: out({'type': 'step_start', 'sessionID': sid, 'part': {}}))
            if mode == 'error':
                out({'type': 'error', 'sessionID': sid,
                     'error': {'name': 'ProviderAuthError', 'data': {'message': 'no credentials for the provider'}}})
                sys.exit(0)
            if mode == 'parts':
                out({'type': 'text', 'sessionID': sid, 'part': {'type': 'text', 'text': 'first '}})
                out({'type': 'tool_use', 'sessionID': sid, 'part': {'tool': 'read', 'state': {'status': 'completed'}}})
                out({'type': 'mystery_event_from_the_future', 'sessionID': sid})
                out({'type': 'text', 'sessionID': sid, 'part': {'type': 'text', 'text': 'second'}})
            else:
                out({'type': 'text', 'sessionID': sid, 'part': {'type': 'text', 'text': answer}})
            out({'type': 'step_finish', 'sessionID': sid, 'part': {'tokens': {'input': 3, 'output': 5}}})
            if mode == 'orphan':
                os._exit(0)
            """;

    private FakeHarness() {
    }

    static Path claude(Path bin, Path spy) {
        return write(bin.resolve("claude"), spy, CLAUDE);
    }

    static Path opencode(Path bin, Path spy) {
        return write(bin.resolve("opencode"), spy, OPENCODE);
    }

    /** An executable shell script with {@code body}, for misbehaviour the Python fakes do not cover. */
    static Path script(Path file, String body) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, "#!/bin/sh\n" + body);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(Path file, Path spy, String body) {
        try {
            Files.createDirectories(file.getParent());
            Files.createDirectories(spy);
            String pyString = "'" + spy.toAbsolutePath().toString().replace("\\", "\\\\").replace("'", "\\'") + "'";
            Files.writeString(file, "#!" + python() + " -S\n" + COMMON.formatted(pyString) + body);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A python3 that runs without the caller's environment (not a pyenv shim). */
    private static String python() {
        for (String candidate : new String[] {"/usr/bin/python3", "/usr/local/bin/python3"}) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("the session tests need python3 in /usr/bin or /usr/local/bin");
    }
}
