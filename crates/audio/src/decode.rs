//! Decoding to mono f32 with symphonia: streamed packet by packet to a sink (`stream_source`,
//! what ingest uses), or whole into memory for tools and tests (`decode_file`, `decode_source`).

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer, Signal};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::AudioError;

/// At most this much audio is kept for analysis (longer files are analysed from the start).
pub const MAX_ANALYSED_SECONDS: f64 = 600.0;
/// Sample rates outside this range are refused before decoding: a header claiming 0 Hz (or
/// billions) is a damaged or hostile file, and no real recording lies outside it.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;
/// More channels than this is a damaged header, not a recording.
pub const MAX_CHANNELS: usize = 64;

/// Decoded audio, mixed down to mono.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: usize,
    /// Length of the whole stream in seconds (the samples may hold less: see
    /// `MAX_ANALYSED_SECONDS`).
    pub duration_seconds: f64,
}

/// Runs decoding or analysis so that a panic inside it (a decoder bug on a damaged file)
/// becomes this file's error instead of taking down the caller.
pub fn guarded<T>(work: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(AudioError::Corrupt(format!(
                "the decoder failed on this file ({what})"
            )))
        }
    }
}

pub fn decode_file(path: &Path) -> Result<Decoded, AudioError> {
    let file = File::open(path)?;
    let hint_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_string);
    decode_source(Box::new(file), hint_ext.as_deref())
}

/// The one rule for a stream's declared sample rate and channel count, as `whose` header
/// states them (a WAV header before probing, any format's after).
fn check_stream(whose: &str, rate: u32, channels: Option<usize>) -> Result<(), AudioError> {
    if !SAMPLE_RATES.contains(&rate) {
        return Err(AudioError::Corrupt(format!(
            "{whose} sample rate {rate} Hz is outside {}-{} Hz",
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )));
    }
    match channels {
        Some(n) if n == 0 || n > MAX_CHANNELS => Err(AudioError::Corrupt(format!(
            "{whose} channel count {n} is outside 1-{MAX_CHANNELS}"
        ))),
        _ => Ok(()),
    }
}

/// A WAV file's format chunk is read before the decoder sees it: a header claiming 0 Hz, no
/// channels or an odd sample size makes decoders divide by zero or panic, so it is refused
/// here with what is wrong. Anything that is not a RIFF/WAVE file passes untouched.
/// FLAC's STREAMINFO (the first metadata block, always there): sample depths the decoder does
/// not read are named here, where the decoder itself would only say "end of stream".
fn check_flac_streaminfo(head: &[u8]) -> Result<(), AudioError> {
    // After "fLaC" and the 4-byte block header: block sizes (4 bytes), frame sizes (6), then
    // 20 bits of sample rate, 3 of channels - 1 and 5 of bits per sample - 1.
    let packed = u64::from_be_bytes(head[18..26].try_into().expect("8 bytes"));
    let bits = ((packed >> 36) & 0x1f) + 1;
    if bits > MAX_FLAC_BITS {
        return Err(AudioError::Unsupported(format!(
            "FLAC with {bits}-bit samples: the decoder reads FLAC up to {MAX_FLAC_BITS} bits per \
             sample; re-encode it at 24 bits (e.g. `flac -d` then `sox in.wav -b 24 out.flac`)"
        )));
    }
    Ok(())
}

/// The deepest FLAC samples symphonia's decoder reads.
const MAX_FLAC_BITS: u64 = 24;

fn check_wav_header(source: &mut Box<dyn MediaSource>) -> Result<(), AudioError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut head = Vec::with_capacity(4096);
    source.by_ref().take(4096).read_to_end(&mut head)?;
    source.seek(SeekFrom::Start(0))?;
    if head.len() >= 26 && &head[0..4] == b"fLaC" {
        return check_flac_streaminfo(&head);
    }
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(());
    }
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes([head[at + 4], head[at + 5], head[at + 6], head[at + 7]]);
        let body = at + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > head.len() {
                return Err(AudioError::Corrupt(
                    "the WAV format chunk is too short".into(),
                ));
            }
            let u16_at = |o: usize| u16::from_le_bytes([head[body + o], head[body + o + 1]]);
            let channels = u16_at(2) as usize;
            let rate = u32::from_le_bytes([
                head[body + 4],
                head[body + 5],
                head[body + 6],
                head[body + 7],
            ]);
            let bits = u16_at(14);
            check_stream("the WAV header's", rate, Some(channels))?;
            if bits == 0 || bits > 64 {
                return Err(AudioError::Corrupt(format!(
                    "the WAV header's sample size {bits} bits is outside 1-64"
                )));
            }
            return Ok(());
        }
        // Chunks are padded to an even size.
        at = body.saturating_add(size as usize + (size as usize & 1));
    }
    Ok(())
}

/// A packet's length in sample frames, from its duration in the track's time base; None where
/// the container does not say (then the packet is decoded to count it).
fn packet_frames(
    packet: &symphonia::core::formats::Packet,
    time_base: Option<symphonia::core::units::TimeBase>,
    sample_rate: u32,
) -> Option<u64> {
    let time_base = time_base?;
    if packet.dur == 0 || time_base.denom == 0 {
        return None;
    }
    let frames = u128::from(packet.dur) * u128::from(time_base.numer) * u128::from(sample_rate)
        / u128::from(time_base.denom);
    u64::try_from(frames).ok()
}

/// What a decoded stream was.
#[derive(Debug, Clone, Copy)]
pub struct StreamInfo {
    pub sample_rate: u32,
    pub channels: usize,
    /// Length of the whole stream in seconds (the samples handed out may be less: see
    /// `MAX_ANALYSED_SECONDS`).
    pub duration_seconds: f64,
}

/// Decodes any media source whole into memory; `extension` helps the format probe.
pub fn decode_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Result<Decoded, AudioError> {
    let mut samples: Vec<f32> = Vec::new();
    let info = stream_source(source, extension, &mut |_, chunk| {
        samples.extend_from_slice(chunk)
    })?;
    Ok(Decoded {
        samples,
        sample_rate: info.sample_rate,
        channels: info.channels,
        duration_seconds: info.duration_seconds,
    })
}

/// Decodes any media source packet by packet, handing each packet's samples, mixed down to
/// mono, to `sink` with the stream's rate, up to `MAX_ANALYSED_SECONDS`; the rest of the
/// stream is only counted. Nothing but one packet is held. A stream that turns out damaged or
/// cut short is an error after its samples were handed out: the caller drops what it made.
pub fn stream_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    sink: &mut dyn FnMut(u32, &[f32]),
) -> Result<StreamInfo, AudioError> {
    let mut source = source;
    check_wav_header(&mut source)?;
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Unsupported("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| AudioError::Unsupported("no sample rate".into()))?;
    check_stream(
        "the header's",
        sample_rate,
        params.channels.map(|c| c.count()),
    )?;
    let expected_frames = params.n_frames;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(e.to_string()))?;
    let keep = (MAX_ANALYSED_SECONDS * sample_rate as f64) as u64;
    let mut handed_out: u64 = 0;
    let mut mono: Vec<f32> = Vec::new();
    let mut frames: u64 = 0;
    let mut channels = 0;
    let mut bad_packets = 0usize;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        if handed_out >= keep {
            // Past what is analysed the stream is only counted: where the container gives a
            // packet's length, it is not decoded (an hour-long mix is not decoded to the end
            // only to learn its length).
            if let Some(n) = packet_frames(&packet, params.time_base, sample_rate) {
                frames += n;
                continue;
            }
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet is skipped, as players do; many of them mean a broken file.
            Err(SymphoniaError::DecodeError(e)) => {
                bad_packets += 1;
                if bad_packets > 50 {
                    return Err(AudioError::Corrupt(format!("too many bad packets ({e})")));
                }
                continue;
            }
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        channels = spec.channels.count().max(1);
        frames += decoded.frames() as u64;
        if handed_out >= keep {
            continue;
        }
        let scale = 1.0 / channels as f32;
        mono.clear();
        if let AudioBufferRef::F32(planar) = &decoded {
            // Most decoders (Vorbis, MP3, AAC) give planar f32: mix the planes directly.
            mono.extend_from_slice(planar.chan(0));
            for c in 1..channels {
                for (m, x) in mono.iter_mut().zip(planar.chan(c)) {
                    *m += x;
                }
            }
            if channels > 1 {
                mono.iter_mut().for_each(|m| *m *= scale);
            }
        } else {
            let buf =
                buffer.get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
            if buf.capacity() < decoded.capacity() * channels {
                *buf = SampleBuffer::new(decoded.capacity() as u64, spec);
            }
            buf.copy_interleaved_ref(decoded);
            mono.extend(
                buf.samples()
                    .chunks_exact(channels)
                    .map(|f| f.iter().sum::<f32>() * scale),
            );
        }
        let take = (mono.len() as u64).min(keep - handed_out) as usize;
        if take > 0 {
            sink(sample_rate, &mono[..take]);
            handed_out += take as u64;
        }
    }
    if handed_out == 0 {
        return Err(AudioError::Corrupt("no audio could be decoded".into()));
    }
    if let Some(n) = expected_frames {
        // A stream that stops well short of its declared length was cut off.
        if n > 0 && (frames as f64) < 0.9 * n as f64 {
            return Err(AudioError::Corrupt(format!(
                "truncated: {frames} of {n} frames decoded"
            )));
        }
    }
    Ok(StreamInfo {
        sample_rate,
        channels,
        duration_seconds: frames as f64 / sample_rate as f64,
    })
}
