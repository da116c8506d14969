//! The stream against hand-made files and against itself: any chunking gives the same events,
//! positions and errors as the whole file pushed at once.

use proptest::prelude::*;
use xml_stream::{Event, MAX_ELEMENT_BYTES, XmlStream};

/// Every event as a line of text, then the error, if any.
fn events(chunks: &[&[u8]]) -> Vec<String> {
    let mut stream = XmlStream::new();
    let mut lines = Vec::new();
    let mut on_event = |event: Event<'_>| match event {
        Event::Element(element) => {
            let p = element.position;
            let mut line = format!("<{} {}:{}@{} d{}", element.name, p.line, p.column, p.byte_offset, element.depth);
            for attribute in element.attributes() {
                match attribute {
                    Ok(a) => {
                        line.push_str(&format!(" {}={:?}@{}:{}", a.name, a.value, a.position.line, a.position.column))
                    }
                    Err(e) => line.push_str(&format!(" ERROR {}:{} {}", e.position.line, e.position.column, e.problem)),
                }
            }
            lines.push(line);
        }
        Event::End { name, position } => lines.push(format!("</{name} {}:{}", position.line, position.column)),
    };
    for chunk in chunks {
        stream.push(chunk, &mut on_event);
    }
    if let Some(error) = stream.finish(&mut on_event).cloned() {
        lines.push(format!(
            "error {}:{}@{} {}",
            error.position.line, error.position.column, error.position.byte_offset, error.problem
        ));
    }
    lines
}

const FLEX: &str = "\u{feff}<FlexQueryResponse queryName=\"NAV MTD\" type=\"AF\">\r\n<FlexStatements count=\"1\">\r\n<!-- a comment -->\r\n<FlexStatement accountId=\"U0000001\" fromDate=\"20250701\"\r\n    toDate=\"20250701\">\r\n<Trade description=\"A &amp; B\" symbol=\"SPY   250701P00615000\" quantity=\"-1,000\" />\r\n<CashTransaction amount=\"1\" type=\"Deposits/Withdrawals\"/></FlexStatement>\r\n</FlexStatements>\r\n</FlexQueryResponse>\r\n";

#[test]
fn a_flex_file_gives_every_element_with_positions() {
    let got = events(&[FLEX.as_bytes()]);
    assert_eq!(got[1], "<FlexStatements 2:1@54 d1 count=\"1\"@2:17", "{got:?}");
    assert!(got[0].starts_with("<FlexQueryResponse 1:1@3 d0"), "the BOM is skipped but counted: {got:?}");
    let statement = got.iter().find(|l| l.starts_with("<FlexStatement ")).unwrap();
    assert!(statement.contains("toDate=\"20250701\"@5:5"), "an attribute on the next line: {statement}");
    let trade = got.iter().find(|l| l.starts_with("<Trade ")).unwrap();
    assert!(trade.contains("description=\"A & B\""), "entities are replaced: {trade}");
    assert!(trade.contains("symbol=\"SPY   250701P00615000\""), "inner spaces kept: {trade}");
    assert!(trade.starts_with("<Trade 6:1@") && trade.contains(" d3"), "{trade}");
    assert!(got.contains(&"</Trade 6:1".to_owned()), "an empty element ends where it starts");
    assert!(got.contains(&"</FlexStatement 7:58".to_owned()), "{got:?}");
    assert_eq!(got.last().unwrap(), "</FlexQueryResponse 9:1");
}

#[test]
fn a_file_cut_short_names_the_open_element() {
    let cut = &FLEX.as_bytes()[..FLEX.find("<CashTransaction").unwrap() + 10];
    let got = events(&[cut]);
    assert!(got.last().unwrap().starts_with("error 7:1@"), "{got:?}");
    assert!(got.last().unwrap().contains("cut short"), "{got:?}");
    let whole_elements = events(&[&FLEX.as_bytes()[..FLEX.find("</FlexStatements>").unwrap()]]);
    assert!(whole_elements.last().unwrap().contains("the file ends before </FlexStatements>"), "{whole_elements:?}");
}

#[test]
fn malformed_markup_stops_with_its_position() {
    let got = events(&[b"<a>\n  <b></c>\n</a>"]);
    assert_eq!(got.last().unwrap(), "error 2:6@9 an end tag </c> where </b> was expected");
    let got = events(&[b"<a x=1/>"]);
    assert!(got[0].contains("ERROR 1:6 an attribute value without quotes"), "{got:?}");
    let got = events(&[b"<a/><b/>"]);
    assert!(got.last().unwrap().contains("a second root element <b>"), "{got:?}");
    let got = events(&[b"</a>"]);
    assert!(got.last().unwrap().contains("with no element open"), "{got:?}");
    let got = events(&[b"  \n "]);
    assert_eq!(got.last().unwrap(), "error 2:2@4 the file has no XML element");
    let got = events(&[b"<a b=\"\xff\"/>"]);
    assert!(got.last().unwrap().starts_with("error 1:"), "not UTF-8: {got:?}");
}

#[test]
fn an_endless_element_stops_reading_instead_of_growing() {
    let mut stream = XmlStream::new();
    stream.push(b"<a ", &mut |_| {});
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(MAX_ELEMENT_BYTES / chunk.len() + 2) {
        stream.push(&chunk, &mut |_| {});
    }
    let error = stream.error().expect("stopped").clone();
    assert!(error.problem.contains("longer than"), "{error:?}");
    assert_eq!(stream.bytes(), 3 + (MAX_ELEMENT_BYTES / chunk.len() + 2) as u64 * chunk.len() as u64);
}

#[test]
fn memory_holds_one_element_not_the_file() {
    let mut stream = XmlStream::new();
    let mut elements = 0u64;
    let mut count = |event: Event<'_>| elements += u64::from(matches!(event, Event::Element(_)));
    stream
        .push(b"<FlexQueryResponse><FlexStatements count=\"1\"><FlexStatement accountId=\"U1\"><Trades>\n", &mut count);
    let row = "<Trade accountId=\"U1\" transactionID=\"123456789\" symbol=\"SPY   250701P00615000\" quantity=\"-2\" tradePrice=\"1.55\" dateTime=\"20250701;093001 EDT\" />\n";
    // 32 MB of rows, pushed in chunks of 65 519 bytes that cut rows anywhere.
    let file = row.repeat(32 << 20 >> 7).into_bytes();
    let mut most = 0;
    for chunk in file.chunks(65_519) {
        stream.push(chunk, &mut count);
        most = most.max(stream.buffered());
    }
    assert!(most < row.len(), "held {most} bytes between pushes: more than the element cut by a chunk's end");
    assert!(stream.error().is_none(), "{:?}", stream.error());
    assert_eq!(elements, 4 + (32 << 20 >> 7), "every row was read");
}

#[test]
fn deep_nesting_is_refused() {
    let file = "<a>".repeat(xml_stream::MAX_DEPTH + 1);
    let got = events(&[file.as_bytes()]);
    assert!(got.last().unwrap().contains("nested deeper"), "{}", got.last().unwrap());
}

/// A document of random elements, attributes (some with entities and multi-byte text),
/// comments and text, sometimes cut short.
fn document() -> impl Strategy<Value = Vec<u8>> {
    let attribute = ("[a-zA-Z]{1,8}", "[a-zA-Z0-9 é;&-]{0,12}")
        .prop_map(|(name, value)| format!(" {name}=\"{}\"", value.replace('&', "&amp;")));
    let element = (prop::collection::btree_map("[a-z]{1,6}", attribute, 0..4), any::<bool>(), 0..3usize).prop_map(
        |(attributes, empty, newlines)| {
            let attributes: String = attributes.into_values().collect();
            let gap = "\n".repeat(newlines);
            if empty {
                format!("<Row{attributes}/>{gap}")
            } else {
                format!("<Group{attributes}>{gap}<!-- c --></Group>{gap}")
            }
        },
    );
    (prop::collection::vec(element, 0..20), any::<bool>(), any::<u16>()).prop_map(|(elements, cut, at)| {
        let mut file = format!("\u{feff}<?xml version=\"1.0\"?>\n<Root>\n{}</Root>\n", elements.concat()).into_bytes();
        if cut {
            file.truncate(usize::from(at) % (file.len() + 1));
        }
        file
    })
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(file in document(), cuts in prop::collection::vec(any::<u16>(), 0..12)) {
        let mut positions: Vec<usize> = cuts.iter().map(|&c| usize::from(c) % (file.len() + 1)).collect();
        positions.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for end in positions.into_iter().chain([file.len()]) {
            chunks.push(&file[start..end]);
            start = end;
        }
        prop_assert_eq!(events(&chunks), events(&[&file]));
        let bytewise: Vec<&[u8]> = file.chunks(1).collect();
        prop_assert_eq!(events(&bytewise), events(&[&file]));
    }
}

#[test]
fn cuts_inside_characters_references_and_marks_change_nothing() {
    // Found by the fuzz target: a byte-order mark between elements (quick-xml drops one at the
    // start of its input), a character reference and a multi-byte character cut by a chunk's
    // end, and bytes that are not UTF-8.
    let files: [&[u8]; 3] = [
        b"<a>\n\xEF\xBB\xBF\xEF\xBB\xBF\n<b x=\"\xC3\xA9t\xC3\xA9\"/>caf\xC3\xA9 &amp; &#233; &unknown;</a>",
        b"<a><b/>text \xE2\x82\xAC</a>",
        b"<a><b/>\xE2\x82 broken</a>",
    ];
    for file in files {
        let whole = events(&[file]);
        for size in 1..8 {
            let chunks: Vec<&[u8]> = file.chunks(size).collect();
            assert_eq!(events(&chunks), whole, "chunks of {size}: {}", String::from_utf8_lossy(file));
        }
    }
    assert!(events(&[files[2]]).last().unwrap().starts_with("error 1:8@7 bytes that are not UTF-8"));
}
