//! Bulk memory, tables, reference types, element and data segments.

use super::*;
use kiln_loader::ExternRef;

#[test]
fn bulk_memory_operations() {
    check(
        r#"(module
          (memory 1)
          (data $d "abcdef")
          (func (export "init") (memory.init $d (i32.const 10) (i32.const 1) (i32.const 3)))
          (func (export "copy") (memory.copy (i32.const 11) (i32.const 10) (i32.const 3)))
          (func (export "fill") (memory.fill (i32.const 20) (i32.const 0x41) (i32.const 4)))
          (func (export "drop") (data.drop $d))
          (func (export "get") (param i32) (result i32) (i32.load8_u (local.get 0))))"#,
        &[
            ("init", &[], &[]),
            ("get", &[i32v(10)], &[i32v(b'b' as i32)]),
            ("get", &[i32v(12)], &[i32v(b'd' as i32)]),
            ("copy", &[], &[]),
            ("get", &[i32v(11)], &[i32v(b'b' as i32)]),
            ("get", &[i32v(13)], &[i32v(b'd' as i32)]),
            ("fill", &[], &[]),
            ("get", &[i32v(23)], &[i32v(0x41)]),
            ("drop", &[], &[]),
        ],
    );
}

#[test]
fn tables_and_references() {
    let (mut store, instance, _loaded) = crate::common::instantiate(
        r#"(module
          (type $t (func (result i32)))
          (table $tab 2 10 funcref)
          (table $ext 1 externref)
          (elem (i32.const 0) $one)
          (elem $later func $two)
          (func $one (result i32) (i32.const 1))
          (func $two (result i32) (i32.const 2))
          (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0)))
          (func (export "size") (result i32) (table.size $tab))
          (func (export "grow") (result i32) (table.grow $tab (ref.func $two) (i32.const 3)))
          (func (export "init") (table.init $tab $later (i32.const 1) (i32.const 0) (i32.const 1)))
          (func (export "is_null") (param i32) (result i32) (ref.is_null (table.get $tab (local.get 0))))
          (func (export "set_ext") (param externref) (table.set $ext (i32.const 0) (local.get 0)))
          (func (export "get_ext") (result externref) (table.get $ext (i32.const 0))))"#,
    );
    check_in(
        &mut store,
        &instance,
        &[
            ("call", &[i32v(0)], &[i32v(1)]),
            ("is_null", &[i32v(1)], &[i32v(1)]),
            ("init", &[], &[]),
            ("call", &[i32v(1)], &[i32v(2)]),
            ("size", &[], &[i32v(2)]),
            ("grow", &[], &[i32v(2)]),
            ("size", &[], &[i32v(5)]),
            ("call", &[i32v(4)], &[i32v(2)]),
        ],
    );
    // An externref is a host value of the store: it comes back as the same reference.
    let ext = ExternRef::new(&mut store, 77u32).unwrap();
    check_in(
        &mut store,
        &instance,
        &[
            ("set_ext", &[Val::ExternRef(Some(ext))], &[]),
            ("get_ext", &[], &[Val::ExternRef(Some(ext))]),
        ],
    );
    let back = instance.call(&mut store, "get_ext", &[]).unwrap()[0]
        .extern_ref()
        .expect("a non-null externref");
    assert_eq!(back.data(&store).unwrap().downcast_ref::<u32>(), Some(&77));
}
