import {
  defangUrls,
  escapeWithin,
  oneLine,
  slackCode,
  slackCodeExact,
  slackEscape,
  stripTerminalEscapes,
  truncate,
  truncateBytes,
} from '../../lambda/alerts/sanitize';
import { HOSTILE } from './fixtures';

describe('oneLine', () => {
  it('turns CR/LF into a space so a header or a second line cannot be injected', () => {
    expect(oneLine(HOSTILE.headerInjection)).toBe('Payments key Bcc: x@evil.example Subject: all clear');
  });

  it('removes ANSI colours and OSC 8 terminal hyperlinks whole, leaving only their visible text', () => {
    expect(oneLine(HOSTILE.ansi)).toBe('RED here');
  });

  it('drops bidi overrides, zero-width characters and tag characters', () => {
    expect(oneLine('abc\u202edcba\u200b\u2066x\u{e0041}')).toBe('abcdcbax');
  });

  it('replaces Unicode line separators, NEL and tabs with single spaces', () => {
    expect(oneLine('a\u2028b\u0085c\t\td')).toBe('a b c d');
  });

  it('drops lone surrogates, which cannot be encoded as UTF-8, but keeps emoji', () => {
    expect(oneLine('key \u{1f511} \ud800x')).toBe('key \u{1f511} x');
  });

  it('cuts to the maximum length and marks the cut with an ellipsis', () => {
    const line = oneLine('x'.repeat(200), 50);
    expect(line).toHaveLength(50);
    expect(line.endsWith('x…')).toBe(true);
  });
});

describe('stripTerminalEscapes', () => {
  it('removes 8-bit CSI sequences and a lone ESC', () => {
    expect(stripTerminalEscapes('\u009b1mbold\u001b')).toBe('bold');
  });
});

describe('truncate', () => {
  it('leaves a string that fits alone', () => {
    expect(truncate('abc', 3)).toBe('abc');
  });

  it('never splits a surrogate pair', () => {
    expect(truncate('ab\u{1f511}\u{1f511}', 4)).toBe('ab…');
  });

  it('returns an empty string when not even the ellipsis fits', () => {
    expect(truncate('abc', 0)).toBe('');
  });
});

describe('truncateBytes', () => {
  it('counts UTF-8 bytes and keeps whole characters', () => {
    expect(truncateBytes('é'.repeat(10), 9)).toBe('ééé…');
    expect(Buffer.byteLength(truncateBytes('é'.repeat(10), 10))).toBeLessThanOrEqual(10);
  });
});

describe('slackEscape', () => {
  it('escapes a channel mention so it cannot notify anyone', () => {
    expect(slackEscape(HOSTILE.channelMention)).toBe('&lt;!channel&gt; rotate now');
  });

  it('escapes a disguised link so it shows its target and cannot be clicked as "click"', () => {
    expect(slackEscape(HOSTILE.disguisedLink)).toBe('&lt;https://evil.example|click to restore access&gt;');
  });

  it('escapes ampersands first, so existing entities stay literal', () => {
    expect(slackEscape('&lt;!here&gt;')).toBe('&amp;lt;!here&amp;gt;');
  });

  it('replaces backticks so no code block can be opened or closed', () => {
    expect(slackEscape('```x``` `y`')).toBe('ˋˋˋxˋˋˋ ˋyˋ');
  });

  it('neutralizes *bold*, _italic_, ~strike~ and markdown links', () => {
    expect(slackEscape(HOSTILE.markdown)).toBe('∗bold∗ ˍitalicˍ ∼strike∼ [docs] (https://evil.example)');
  });

  it('breaks bare @here/@channel mentions but leaves e-mail addresses alone', () => {
    expect(slackEscape('@here look, @Channel, carol@here.example')).toBe('＠here look, ＠Channel, carol@here.example');
  });
});

describe('slackCode', () => {
  it('keeps policy wildcards and underscores verbatim inside a code span but still escapes entities', () => {
    expect(slackCode('kms:* alias/my_key <!channel>')).toBe('`kms:* alias/my_key &lt;!channel&gt;`');
  });

  it('cannot be closed early by a backtick in the text', () => {
    expect(slackCode('a`b')).toBe('`aˋb`');
  });
});

describe('slackCodeExact', () => {
  it('wraps text whose only escapes are entities Slack shows as the characters', () => {
    expect(slackCodeExact("jq -e '.a' > f.json && cat f.json")).toBe("`jq -e '.a' &gt; f.json &amp;&amp; cat f.json`");
  });

  it('refuses text it could only show altered: a backtick, a bare mention, nothing at all', () => {
    expect(slackCodeExact("--description 'it`s'")).toBeUndefined();
    expect(slackCodeExact('--tags TagValue=@channel')).toBeUndefined();
    expect(slackCodeExact('')).toBeUndefined();
  });
});

describe('defangUrls', () => {
  it('breaks http and https schemes in any case', () => {
    expect(defangUrls('see https://evil.example and HTTP://x')).toBe('see hxxps://evil.example and hxxp://x');
  });
});

describe('escapeWithin', () => {
  it('keeps the escaped text within the limit even when escaping quadruples it', () => {
    expect(escapeWithin('<'.repeat(100), 20, slackEscape)).toBe('&lt;&lt;&lt;&lt;…');
  });

  it('returns text that fits unchanged apart from escaping', () => {
    expect(escapeWithin('a<b', 20, slackEscape)).toBe('a&lt;b');
  });
});
