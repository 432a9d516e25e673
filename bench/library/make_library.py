"""Makes a music folder of N tagged files for the library scan benchmark: copies of real music
(20-second clips of the Debian soundtracks bench/audio/fetch_debian_music.sh fetches, as MP3,
OGG Vorbis and FLAC), each re-tagged with its own title, artist, album, track, genre and year
(mutagen), ten songs to an album and ten albums to an artist, a cover image in every other
album folder.

    python3 bench/library/make_library.py SOURCE_DIR OUT_DIR [N]      (N default 10000)
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile

from mutagen.easyid3 import EasyID3
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis

GENRES = ["Rock", "Jazz", "Classical", "Electronic", "Ambient", "Folk", "Metal", "Pop"]


def clips(source, work, wanted=12):
    """20-second clips of real files, in three formats."""
    found = []
    for root, _, files in os.walk(source):
        for f in sorted(files):
            if f.endswith((".ogg", ".mp3")):
                found.append(os.path.join(root, f))
    random.Random(7).shuffle(found)
    out = []
    for i, path in enumerate(found[:wanted]):
        wav = os.path.join(work, f"{i}.wav")
        if path.endswith(".ogg"):
            subprocess.run(["oggdec", "--quiet", "-o", wav, path], check=True)
        else:
            subprocess.run(["lame", "--silent", "--decode", path, wav], check=True)
        cut = os.path.join(work, f"{i}-cut.wav")
        # 20 s of 44.1 kHz stereo 16-bit: the WAV header plus 3,528,000 bytes.
        with open(wav, "rb") as src, open(cut, "wb") as dst:
            dst.write(src.read(44 + 3_528_000))
        kind = ["mp3", "ogg", "flac"][i % 3]
        target = os.path.join(work, f"{i}.{kind}")
        if kind == "mp3":
            subprocess.run(["lame", "--silent", "-b", "128", cut, target], check=True)
        elif kind == "ogg":
            subprocess.run(["oggenc", "--quiet", "-q", "3", "-o", target, cut], check=True)
        else:
            subprocess.run(["flac", "--silent", "-f", "--best", "-o", target, cut], check=True)
        out.append(target)
    return out


def tag(path, i):
    fields = {
        "title": f"Song {i:05d}",
        "artist": f"Artist {i // 100:03d}",
        "album": f"Album {i // 10:04d}",
        "tracknumber": str(i % 10 + 1),
        "genre": GENRES[(i // 10) % len(GENRES)],
        "date": str(1970 + (i // 10) % 50),
    }
    if path.endswith(".mp3"):
        t = EasyID3()
        for k, v in fields.items():
            t[k] = v
        t.save(path)
    else:
        t = OggVorbis(path) if path.endswith(".ogg") else FLAC(path)
        for k, v in fields.items():
            t[k] = v
        t.save()


def main():
    source, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    with tempfile.TemporaryDirectory() as work:
        sources = clips(source, work)
        cover = os.path.join(work, "cover.jpg")
        subprocess.run(
            [sys.executable, "-c",
             "import zlib,struct;"
             "raw=b''.join(b'\\x00'+b'\\x80\\x20\\x20'*300 for _ in range(300));"
             "c=lambda t,d:struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff);"
             f"open({cover!r},'wb').write(b'\\x89PNG\\r\\n\\x1a\\n'+c(b'IHDR',struct.pack('>IIBBBBB',300,300,8,2,0,0,0))+c(b'IDAT',zlib.compress(raw))+c(b'IEND',b''))"],
            check=True,
        )
        for i in range(n):
            src = sources[i % len(sources)]
            ext = os.path.splitext(src)[1]
            folder = os.path.join(out, f"Artist {i // 100:03d}", f"Album {i // 10:04d}")
            os.makedirs(folder, exist_ok=True)
            dest = os.path.join(folder, f"{i % 10 + 1:02d} - Song {i:05d}{ext}")
            shutil.copyfile(src, dest)
            tag(dest, i)
            if i % 10 == 0 and (i // 10) % 2 == 0:
                shutil.copyfile(cover, os.path.join(folder, "cover.png"))
    print(out)


if __name__ == "__main__":
    main()
