package dev.karta.server.sessions;

import dev.karta.server.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fake {@code claude} and {@code opencode} executables: small Python scripts that parse their
 * argv as the real CLIs do, read the message from stdin when argv has none (as both do), print
 * each harness's JSON-lines format, and misbehave on request. The message text picks the
 * behaviour ({@code mode:arg}); anything else answers the content of {@code answer.txt} in the
 * working directory, which proves which release tree a turn ran in. They record their pid, the
 * prompt they read, their argv and their waits in a spy directory baked into the script.
 *
 * <p>Each keeps its conversations where the real one does, loosely: a transcript file per
 * conversation id, Claude Code's in {@code $CLAUDE_CONFIG_DIR} (default {@code $HOME/.claude})
 * {@code /projects/<working directory, every other character than a letter or digit a dash>/<id>.jsonl},
 * OpenCode's in {@code $XDG_DATA_HOME} (default {@code $HOME/.local/share})
 * {@code /opencode/storage/session/<id>.jsonl}. An unknown {@code --resume} or {@code --session}
 * id is refused as the real CLIs (2.1.x, 1.18.x) refuse it: Claude Code prints
 * {@code No conversation found with session ID: ID} on stderr and as the {@code errors} of an
 * error result, and exits 1; OpenCode prints a coloured {@code Error: Session not found} on
 * stderr and exits 1.
 *
 * <p>The fake claude streams its reply token by token ({@code stream_event} lines) only when given
 * {@code --include-partial-messages}, then repeats each message whole, as the real one does; its
 * {@code result} holds the last step's text only.
 *
 * <pre>
 * garbage       non-JSON lines, exit 0          exit:N   stderr line, exit N
 * error         the harness's own error event   hang     start a child, then sleep forever
 * huge          print JSON lines forever        orphan   leave a child holding stdout, answer, exit
 * wait:NAME     answer once SPY/NAME exists      sleep:S  sleep S seconds, then answer
 * env           answer the environment names     argv     answer the argv
 * getenv:NAME   answer NAME's value, or &lt;unset&gt;
 * parts         two steps ("first", a tool call, "second") and unknown event types
 * history       answer the earlier messages of this conversation (a JSON list)
 * ansi          coloured stderr with a title escape and bells, exit 1
 * retry:N       (claude) N system/api_retry events, then answer
 * notloggedin   (claude) the "Not logged in" error result real Claude Code prints without credentials
 * gone          (opencode) an error event saying the session is not found
 * </pre>
 */
public final class FakeHarness {
    private static final String COMMON = """
            import json, os, re, subprocess, sys, time, uuid
            SPY = %s
            # Children carry the spy directory in their argv: in a PID namespace their pids mean
            # nothing outside, so tests find them by this marker (SessionFixture.running).
            CHILD = [sys.executable, '-S', '-c', 'import time; time.sleep(300)', os.path.join(SPY, 'child')]
            def out(o):
                print(json.dumps(o), flush=True)
            def spy(name, value):
                if not os.access(SPY, os.W_OK):
                    return  # in a sandbox, where the spy folder does not exist: nobody watches
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
            def message_text(positional):
                # Both CLIs read the prompt from stdin when argv has none.
                return ' '.join(positional) if positional else sys.stdin.read()
            def remember(transcript, role, text):
                os.makedirs(os.path.dirname(transcript), exist_ok=True)
                with open(transcript, 'a') as f:
                    f.write(json.dumps({'role': role, 'text': text}) + '\\n')
            def history(transcript):
                with open(transcript) as f:
                    return [m['text'] for m in map(json.loads, f) if m['role'] == 'user']
            def behave(text, transcript, first_events):
                spy(NAME + '.pid', os.getpid())
                spy(NAME + '.prompt', text)
                spy(NAME + '.argv', json.dumps(sys.argv[1:]))
                answer = open('answer.txt').read().strip() if os.path.exists('answer.txt') else 'no answer.txt'
                mode, _, arg = text.partition(':')
                earlier = history(transcript) if os.path.exists(transcript) else []
                remember(transcript, 'user', text)
                first_events()
                if mode == 'garbage':
                    print('this is not json', flush=True)
                    print('{broken', flush=True)
                    sys.exit(0)
                if mode == 'exit':
                    print('boom: something broke', file=sys.stderr, flush=True)
                    sys.exit(int(arg))
                if mode == 'ansi':
                    print('\\x1b]0;pwned\\x07\\x1b[91m\\x1b[1mError: \\x1b[0mboom\\x07\\x1b[2K\\x1b(B went\\rwrong',
                          file=sys.stderr, flush=True)
                    sys.exit(1)
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
                if mode == 'getenv':
                    answer = os.environ.get(arg, '<unset>')
                if mode == 'argv':
                    answer = json.dumps(sys.argv[1:])
                if mode == 'history':
                    answer = json.dumps(earlier)
                return mode, answer
            """;

    private static final String CLAUDE = """
            NAME = 'claude'
            opts, positional = parse(sys.argv[1:], ('--output-format', '--resume'))
            if opts.get('--output-format') != 'stream-json' or '-p' not in opts or '--verbose' not in opts:
                print('usage: claude -p PROMPT --output-format stream-json --verbose', file=sys.stderr)
                sys.exit(64)
            partial = '--include-partial-messages' in opts
            text = message_text(positional)
            config = os.environ.get('CLAUDE_CONFIG_DIR') or os.path.join(os.environ['HOME'], '.claude')
            project = os.path.join(config, 'projects', re.sub('[^A-Za-z0-9]', '-', os.getcwd()))
            resume = opts.get('--resume')
            if resume and not os.path.exists(os.path.join(project, resume + '.jsonl')):
                lost = 'No conversation found with session ID: ' + resume
                print(lost, file=sys.stderr, flush=True)
                out({'type': 'result', 'subtype': 'error_during_execution', 'duration_ms': 0, 'is_error': True,
                     'num_turns': 0, 'stop_reason': None, 'session_id': resume, 'errors': [lost]})
                sys.exit(1)
            sid = resume or 'claude-conv-' + uuid.uuid4().hex[:12]
            transcript = os.path.join(project, sid + '.jsonl')
            def stream(event):
                out({'type': 'stream_event', 'event': event, 'session_id': sid, 'parent_tool_use_id': None})
            def assistant(mid, content):
                out({'type': 'assistant', 'message': {'id': mid, 'type': 'message', 'role': 'assistant',
                                                      'content': content}, 'parent_tool_use_id': None, 'session_id': sid})
            def step(text, tool=None):
                # One model message: its text block (token by token with partial messages), then a tool call.
                mid = 'msg_' + uuid.uuid4().hex[:12]
                if partial:
                    stream({'type': 'message_start', 'message': {'id': mid, 'role': 'assistant', 'content': []}})
                    stream({'type': 'content_block_start', 'index': 0, 'content_block': {'type': 'text', 'text': ''}})
                    for token in re.findall(r'\\S+\\s*|\\s+', text):
                        stream({'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'text_delta', 'text': token}})
                assistant(mid, [{'type': 'text', 'text': text}])
                if partial:
                    stream({'type': 'content_block_stop', 'index': 0})
                if tool:
                    if partial:
                        stream({'type': 'content_block_start', 'index': 1,
                                'content_block': {'type': 'tool_use', 'id': 'toolu_1', 'name': tool, 'input': {}}})
                        stream({'type': 'content_block_delta', 'index': 1,
                                'delta': {'type': 'input_json_delta', 'partial_json': '{"file_path": "x"}'}})
                    assistant(mid, [{'type': 'tool_use', 'id': 'toolu_1', 'name': tool, 'input': {'file_path': 'x'}}])
                if partial:
                    stream({'type': 'message_delta', 'delta': {'stop_reason': 'tool_use' if tool else 'end_turn'}})
                    stream({'type': 'message_stop'})
            def init():
                out({'type': 'system', 'subtype': 'init', 'session_id': sid})
                out({'type': 'system', 'subtype': 'status', 'status': 'requesting', 'session_id': sid})
            mode, answer = behave(text, transcript, init)
            if mode == 'error':
                out({'type': 'result', 'subtype': 'error_during_execution', 'is_error': True,
                     'result': 'model overloaded', 'session_id': sid})
                sys.exit(1)
            if mode == 'notloggedin':
                # Claude Code's own message: no stream events, whatever the flags.
                out({'type': 'assistant', 'message': {'id': str(uuid.uuid4()), 'model': '<synthetic>', 'role': 'assistant',
                     'content': [{'type': 'text', 'text': 'Not logged in \u00b7 Please run /login'}]},
                     'parent_tool_use_id': None, 'session_id': sid})
                out({'type': 'result', 'subtype': 'success', 'is_error': True, 'num_turns': 1,
                     'result': 'Not logged in \u00b7 Please run /login', 'session_id': sid})
                sys.exit(1)
            if mode == 'retry':
                for attempt in range(1, int(text.partition(':')[2]) + 1):
                    out({'type': 'system', 'subtype': 'api_retry', 'attempt': attempt, 'max_retries': 10,
                         'retry_delay_ms': 527.5 * attempt, 'error_status': 529, 'error': 'overloaded', 'session_id': sid})
            if mode == 'parts':
                step('first', tool='Read')
                out({'type': 'user', 'message': {'content': [{'type': 'tool_result'}]}, 'session_id': sid})
                out({'type': 'mystery_event_from_the_future'})
                # A subagent's message is not the reply.
                out({'type': 'assistant', 'message': {'id': 'msg_sub', 'content': [{'type': 'text', 'text': 'subagent'}]},
                     'parent_tool_use_id': 'toolu_1', 'session_id': sid})
                answer = 'second'
            step(answer)
            remember(transcript, 'assistant', answer)
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
            text = message_text(positional)
            data = os.environ.get('XDG_DATA_HOME') or os.path.join(os.environ['HOME'], '.local', 'share')
            store = os.path.join(data, 'opencode', 'storage', 'session')
            session = opts.get('--session')
            if session and not os.path.exists(os.path.join(store, session + '.jsonl')):
                print('\\x1b[91m\\x1b[1mError: \\x1b[0mSession not found', file=sys.stderr, flush=True)
                sys.exit(1)
            sid = session or 'ses_' + uuid.uuid4().hex[:12]
            transcript = os.path.join(store, sid + '.jsonl')
            def step(texts, tool=None):
                out({'type': 'step_start', 'sessionID': sid, 'part': {'type': 'step-start'}})
                for t in texts:
                    out({'type': 'text', 'sessionID': sid, 'part': {'type': 'text', 'text': t}})
                if tool:
                    out({'type': 'tool_use', 'sessionID': sid, 'part': {'tool': tool, 'state': {'status': 'completed'}}})
                out({'type': 'step_finish', 'sessionID': sid,
                     'part': {'reason': 'tool-calls' if tool else 'stop', 'tokens': {'input': 3, 'output': 5}}})
            mode, answer = behave(text, transcript, lambda: None)
            if mode == 'error':
                out({'type': 'error', 'sessionID': sid,
                     'error': {'name': 'ProviderAuthError', 'data': {'message': 'no credentials for the provider'}}})
                sys.exit(0)
            if mode == 'gone':
                out({'type': 'error', 'sessionID': sid,
                     'error': {'name': 'NotFoundError', 'data': {'message': 'Session not found: ' + sid}}})
                sys.exit(1)
            if mode == 'parts':
                step(['first'], tool='read')
                out({'type': 'mystery_event_from_the_future', 'sessionID': sid})
                answer = 'second'
            step([answer])
            remember(transcript, 'assistant', answer)
            if mode == 'orphan':
                os._exit(0)
            """;

    private FakeHarness() {
    }

    /**
     * The environment of a harness run by a test server: the server's own, but with {@code home}
     * as HOME, so the fakes keep their conversations there and never in the HOME of the user
     * running the tests.
     */
    static Map<String, String> environment(Path home) {
        Map<String, String> env = new LinkedHashMap<>(Config.SessionSettings.inheritedEnvironment(List.of()));
        env.put("HOME", home.toAbsolutePath().toString());
        return env;
    }

    /** Writes the fake {@code claude} into {@code bin}; it records what it does in {@code spy}. */
    public static Path claude(Path bin, Path spy) {
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
