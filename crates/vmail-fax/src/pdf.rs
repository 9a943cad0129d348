//! The PDF: one page per image, each page exactly its image's size.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref};

use crate::codec::Image;

/// A page's size in points (1/72 inch) from its pixels and resolution:
/// the nearest number a PDF can say that is not larger, so that a reader
/// rendering at the fax's own resolution, which rounds a page's size in
/// pixels up, gets the fax's pixels and not one more row (2200 rows at
/// 196 dpi are 808.163265... points; 808.16327 would be 2200.00003 pixels).
pub(crate) fn points(pixels: u32, dpi: f64) -> f32 {
    let exact = f64::from(pixels) * 72.0 / dpi;
    let near = exact as f32;
    if f64::from(near) > exact {
        near.next_down()
    } else {
        near
    }
}

/// Writes the PDF of `images`, one page each, in order.
pub(crate) fn write(images: &[Image]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    // Three objects per page: the page, its content and its image.
    let ids = |index: usize| {
        let first = 3 + 3 * index as i32;
        (Ref::new(first), Ref::new(first + 1), Ref::new(first + 2))
    };
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..images.len()).map(|i| ids(i).0))
        .count(images.len() as i32);
    let name = Name(b"Fax");
    for (index, image) in images.iter().enumerate() {
        let (page_id, content_id, image_id) = ids(index);
        let width = points(image.width, image.dpi.0);
        let height = points(image.height, image.dpi.1);

        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, width, height))
            .parent(tree)
            .contents(content_id);
        page.resources().x_objects().pair(name, image_id);
        page.finish();

        let mut content = Content::new();
        content.save_state();
        content.transform([width, 0.0, 0.0, height, 0.0, 0.0]);
        content.x_object(name);
        content.restore_state();
        pdf.stream(content_id, &content.finish());

        let mut xobject = pdf.image_xobject(image_id, &image.data);
        xobject.filter(Filter::CcittFaxDecode);
        xobject.width(image.width as i32);
        xobject.height(image.height as i32);
        xobject.color_space().device_gray();
        xobject.bits_per_component(1);
        let mut parms = xobject.decode_parms();
        parms.k(image.k);
        parms.columns(image.width as i32);
        parms.rows(image.height as i32);
        parms.end_of_block(image.end_of_block);
        if image.end_of_line {
            parms.end_of_line(true);
        }
        if image.byte_align {
            parms.encoded_byte_align(true);
        }
        if image.black_is_1 {
            parms.black_is_1(true);
        }
        parms.finish();
        xobject.finish();
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_in_points_is_never_larger_than_its_pixels() {
        for (pixels, dpi) in [(2200, 196.0), (1100, 98.0), (1728, 204.0), (2339, 200.0)] {
            let pts = points(pixels, dpi);
            let back = f64::from(pts) * dpi / 72.0;
            assert!(back <= f64::from(pixels), "{pixels} at {dpi}: {back}");
            assert!(
                back > f64::from(pixels) - 0.001,
                "{pixels} at {dpi}: {back}"
            );
        }
    }
}
