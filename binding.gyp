{
  "variables": {
    "sp_cflags": ["-std=gnu++17", "-O3", "-fPIC", "-ffp-contract=fast", "-fno-math-errno", "-Wall", "-Wno-unused-function"]
  },
  "target_defaults": {
    "cflags_cc": ["<@(sp_cflags)"],
    "cflags_cc!": ["-std=gnu++14", "-std=gnu++1y", "-O2", "-O0"],
    "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["<@(sp_cflags)"]}
  },
  "targets": [
    {
      "target_name": "sparsify_kernels",
      "sources": [
        "src/kernels/native/addon.cc",
        "src/kernels/native/addon_family.cc",
        "src/kernels/native/addon_export.cc",
        "src/kernels/native/export_quant.cc",
        "src/kernels/native/own_groups.cc",
        "src/kernels/native/pool.cc",
        "src/kernels/native/cpu.cc",
        "src/kernels/native/gemm.cc",
        "src/kernels/native/gemm_portable.cc",
        "src/kernels/native/elementwise.cc",
        "src/kernels/native/attention.cc",
        "src/kernels/native/loss.cc",
        "src/kernels/native/convert.cc",
        "src/kernels/native/prune_ops.cc",
        "src/kernels/native/sparsegpt.cc",
        "src/kernels/native/gqsa.cc",
        "src/kernels/native/backward.cc",
        "src/kernels/native/spmv.cc",
        "src/kernels/native/spmv_portable.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["sp_isa_avx2", "sp_isa_avx512"], "defines": ["SP_X86"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "sp_isa_avx2",
          "type": "static_library",
          "sources": ["src/kernels/native/gemm_avx2.cc", "src/kernels/native/spmv_avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"]
        },
        {
          "target_name": "sp_isa_avx512",
          "type": "static_library",
          "sources": ["src/kernels/native/gemm_avx512.cc", "src/kernels/native/spmv_avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx2", "-mfma"]
        }
      ]
    }]
  ]
}
