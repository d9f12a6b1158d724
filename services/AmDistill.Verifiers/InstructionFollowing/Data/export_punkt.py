"""Exports NLTK's English punkt model (abbreviations, collocations, sentence starters, orthographic context) as text."""
import gzip, sys, nltk
t = nltk.data.load('nltk:tokenizers/punkt/english.pickle')
p = t._params
out = []
def esc(s):
    assert '\t' not in s and '\n' not in s
    return s.encode('unicode_escape').decode('ascii')
for a in sorted(p.abbrev_types): out.append('abbrev\t' + esc(a))
for a, b in sorted(p.collocations): out.append('collocation\t' + esc(a) + '\t' + esc(b))
for s in sorted(p.sent_starters): out.append('starter\t' + esc(s))
for w, v in sorted(p.ortho_context.items()): out.append('ortho\t' + esc(w) + '\t' + str(v))
data = ('\n'.join(out) + '\n').encode('ascii')
with gzip.GzipFile(sys.argv[1], 'wb', mtime=0) as g: g.write(data)
print(len(out), len(data))
