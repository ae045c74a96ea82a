//! Headless Chromium (Debian's `chromium`, which `.ci/run` installs) for
//! the tests of weft's HTML pages: the DOM a page built once its scripts
//! ran, screenshots, and what a PNG screenshot holds.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `chromium` on PATH (or `$WEFT_CHROMIUM`). Without it a test says so and
/// passes, except in CI, where a missing browser is a failure.
pub fn chromium_for(test: &str) -> Option<PathBuf> {
    let found = match std::env::var_os("WEFT_CHROMIUM") {
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("chromium")).find(|p| p.is_file()),
    };
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "chromium must be installed in CI");
        eprintln!("skipping {test}: `chromium` is not installed (apt-get install chromium; .ci/run installs it)");
    }
    found
}

pub fn file_url(page: &Path) -> String {
    format!("file://{}", page.display())
}

/// Runs Chromium headless on `url` with `extra` flags; its stdout.
pub fn headless(chromium: &Path, profile: &Path, extra: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read stdout on a thread so a large DOM cannot fill the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(25) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {extra:?} took over 25 s; stderr:\n{}", errors.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = errors.join().unwrap();
    assert!(status.success(), "chromium {extra:?}: {status}; stderr:\n{stderr}");
    reader.join().unwrap().expect("chromium's output")
}

/// The pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium
/// writes), as RGBA.
pub fn png_pixels(png: &[u8]) -> Result<Vec<[u8; 4]>, String> {
    if png.len() < 8 || &png[..8] != b"\x89PNG\r\n\x1a\n" {
        return Err("not a PNG".into());
    }
    let (mut at, mut header, mut compressed) = (8, None, Vec::new());
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = png.get(at + 8..at + 8 + length).ok_or("truncated chunk")?;
        match kind {
            b"IHDR" => header = Some(data.to_vec()),
            b"IDAT" => compressed.extend_from_slice(data),
            _ => {}
        }
        at += 12 + length;
    }
    let header = header.ok_or("no IHDR")?;
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
    let (depth, colour, interlace) = (header[8], header[9], header[12]);
    let channels = match colour {
        2 => 3,
        6 => 4,
        _ => return Err(format!("colour type {colour} not supported")),
    };
    if depth != 8 || interlace != 0 {
        return Err(format!("bit depth {depth}, interlace {interlace} not supported"));
    }
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&compressed[..]), &mut raw).map_err(|e| e.to_string())?;
    let stride = width * channels;
    if raw.len() < height * (stride + 1) {
        return Err("image data too short".into());
    }
    let mut previous = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width * height);
    for row in 0..height {
        let line = &raw[row * (stride + 1)..(row + 1) * (stride + 1)];
        let mut current = line[1..].to_vec();
        for i in 0..stride {
            let left = if i >= channels { current[i - channels] } else { 0 };
            let up = previous[i];
            let up_left = if i >= channels { previous[i - channels] } else { 0 };
            let predicted = match line[0] {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => paeth(left, up, up_left),
                other => return Err(format!("filter {other}")),
            };
            current[i] = current[i].wrapping_add(predicted);
        }
        for pixel in current.chunks(channels) {
            pixels.push([pixel[0], pixel[1], pixel[2], if channels == 4 { pixel[3] } else { 255 }]);
        }
        previous = current;
    }
    Ok(pixels)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
