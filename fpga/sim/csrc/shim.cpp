// Flat C interface to the Verilated fix_sequencer for the Rust wrapper (src/sys.rs).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "Vfix_sequencer.h"
#include "Vfix_sequencer___024root.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

extern "C" {

// Must match sys::SigIn in src/sys.rs.
struct SigIn {
    uint64_t s_tdata;
    uint32_t csr_addr;
    uint32_t csr_wdata;
    uint16_t s_tuser;
    uint8_t s_tkeep;
    uint8_t s_tvalid;
    uint8_t s_tlast;
    uint8_t m_tready;
    uint8_t csr_valid;
    uint8_t csr_we;
    uint8_t rst;
};

// Must match sys::SigOut in src/sys.rs.
struct SigOut {
    uint64_t m_tdata[4];
    uint32_t csr_rdata;
    uint8_t s_tready;
    uint8_t m_tvalid;
    uint8_t csr_ready;
    uint8_t csr_rvalid;
};

struct FsSim {
    VerilatedContext ctx;
    Vfix_sequencer* top;
    VerilatedVcdC* vcd;
    uint64_t time;
    // fs_snapshot's copy of the model's state (the Verilated root), or null.
    void* snap;
};

FsSim* fs_new(void) {
    FsSim* s = new FsSim();
    s->ctx.traceEverOn(true);
    s->top = new Vfix_sequencer(&s->ctx, "fix_sequencer");
    s->vcd = nullptr;
    s->time = 0;
    s->snap = nullptr;
    s->top->clk = 0;
    s->top->rst = 1;
    s->top->eval();
    return s;
}

void fs_free(FsSim* s) {
    if (s->vcd) {
        s->vcd->close();
        delete s->vcd;
    }
    s->top->final();
    delete s->top;
    std::free(s->snap);
    delete s;
}

// The state of a Verilated model is the plain data of its root object (signals, memories,
// trigger flags; no owning pointer: the only pointers, to the symbol table and the instance
// name, stay valid as long as the instance does). fs_snapshot copies those bytes; fs_restore
// copies them back into the same instance, which then continues exactly as it would have from
// the snapshot's cycle. A snapshot is only ever restored into the instance it was taken from.
int fs_snapshot(FsSim* s) {
    const size_t n = sizeof(Vfix_sequencer___024root);
    if (!s->snap) s->snap = std::malloc(n);
    if (!s->snap) return 0;
    std::memcpy(s->snap, static_cast<void*>(s->top->rootp), n);
    return 1;
}

int fs_restore(FsSim* s) {
    if (!s->snap) return 0;
    std::memcpy(static_cast<void*>(s->top->rootp), s->snap, sizeof(Vfix_sequencer___024root));
    return 1;
}

int fs_trace_open(FsSim* s, const char* path) {
    if (s->vcd) return 0;
    s->vcd = new VerilatedVcdC();
    s->top->trace(s->vcd, 99);
    s->vcd->open(path);
    return s->vcd->isOpen() ? 1 : 0;
}

void fs_trace_close(FsSim* s) {
    if (s->vcd) {
        s->vcd->close();
        delete s->vcd;
        s->vcd = nullptr;
    }
}

// One clock cycle: drive the inputs with clk low, settle, sample the outputs, then the rising
// edge (and back to clk low).
void fs_tick(FsSim* s, const SigIn* in, SigOut* out) {
    Vfix_sequencer* t = s->top;
    t->rst = in->rst;
    t->s_axis_tdata = in->s_tdata;
    t->s_axis_tkeep = in->s_tkeep;
    t->s_axis_tvalid = in->s_tvalid;
    t->s_axis_tlast = in->s_tlast;
    t->s_axis_tuser = in->s_tuser;
    t->m_axis_tready = in->m_tready;
    t->csr_valid = in->csr_valid;
    t->csr_we = in->csr_we;
    t->csr_addr = in->csr_addr;
    t->csr_wdata = in->csr_wdata;
    t->clk = 0;
    t->eval();
    if (s->vcd) s->vcd->dump(s->time);
    s->time++;
    for (int i = 0; i < 4; i++) {
        out->m_tdata[i] = (uint64_t)t->m_axis_tdata[2 * i] |
                          ((uint64_t)t->m_axis_tdata[2 * i + 1] << 32);
    }
    out->csr_rdata = t->csr_rdata;
    out->s_tready = t->s_axis_tready;
    out->m_tvalid = t->m_axis_tvalid;
    out->csr_ready = t->csr_ready;
    out->csr_rvalid = t->csr_rvalid;
    t->clk = 1;
    t->eval();
    if (s->vcd) s->vcd->dump(s->time);
    s->time++;
}

}  // extern "C"
