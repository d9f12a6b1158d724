"""Exports langdetect's profiles and normalisation tables into one text file for the C# port."""
import gzip, json, os, sys
from langdetect import detector_factory
from langdetect.utils import messages
from langdetect.utils.ngram import NGram

import langdetect
d = os.path.join(os.path.dirname(langdetect.__file__), 'profiles')
f = detector_factory.DetectorFactory(); f.load_profile(d)
langs = f.langlist
profiles = {}
for name in os.listdir(d):
    p = json.load(open(os.path.join(d, name), encoding='utf-8'))
    profiles[p['name']] = p
out = []
out.append('langs\t' + ' '.join(langs))
for lang in langs:
    out.append('nwords\t' + lang + '\t' + ' '.join(str(n) for n in profiles[lang]['n_words']))
def esc(s): return s.encode('unicode_escape').decode('ascii')
out.append('latin1_exclude\t' + esc(NGram.LATIN1_EXCLUDED))
out.append('vi_chars\t' + esc(NGram.TO_NORMALIZE_VI_CHARS))
out.append('vi_marks\t' + esc(NGram.DMARK_CLASS))
for s in NGram.NORMALIZED_VI_CHARS: out.append('vi_normalized\t' + esc(s))
for s in NGram.CJK_CLASS: out.append('cjk\t' + esc(s))
grams = {}
for i, lang in enumerate(langs):
    for w, c in profiles[lang]['freq'].items():
        if 1 <= len(w) <= 3:
            grams.setdefault(w, []).append(f'{i}:{c}')
for w in sorted(grams):
    assert '\t' not in w and '\n' not in w
    out.append('g\t' + esc(w) + '\t' + ' '.join(grams[w]))
data = ('\n'.join(out) + '\n').encode('ascii')
with gzip.GzipFile(sys.argv[1], 'wb', mtime=0) as g: g.write(data)
print(len(langs), len(grams), len(data))
