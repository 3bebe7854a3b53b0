//! The TCP framing decoder on arbitrary streams cut at arbitrary points.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use picket::ingest::framing::SyslogDecoder;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&max, rest)) = data.split_first() else { return };
    let mut dec = SyslogDecoder::new(usize::from(max).max(1) * 4);
    let mut buf = BytesMut::new();
    for chunk in rest.chunks(usize::from(max % 17) + 1) {
        buf.extend_from_slice(chunk);
        while let Ok(Some(f)) = dec.decode(&mut buf) {
            assert!(f.bytes.len() <= usize::from(max).max(1) * 4);
        }
    }
    while let Ok(Some(_)) = dec.decode_eof(&mut buf) {}
});
